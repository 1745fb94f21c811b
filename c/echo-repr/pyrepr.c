/*
 * Python 3 bytes repr, as bytes.__repr__ writes it: prefix b; quote ' unless
 * the data holds a ' and no ", then "; \\ and (with ' quotes) \' escaped;
 * \t \n \r by name; other bytes below 0x20 or from 0x7f as \xHH, lowercase.
 */
#include "pyrepr.h"

#include <stdbool.h>

static const char pyrepr_hex[] = "0123456789abcdef";

static char pyrepr_quote(const unsigned char *p, size_t n)
{
    bool squote = false;
    bool dquote = false;
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] == '\'') {
            squote = true;
        } else if (p[i] == '"') {
            dquote = true;
        }
    }
    return (squote && !dquote) ? '"' : '\'';
}

/* Bytes Python spells as \xHH. */
static bool pyrepr_needs_hex(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c >= 0x7f;
}

size_t pyrepr_len(const void *data, size_t n)
{
    const unsigned char *p = data;
    char quote = pyrepr_quote(p, n);
    size_t len = 3;
    size_t i;

    for (i = 0; i < n; i++) {
        if (pyrepr_needs_hex(p[i])) {
            len += 4;
        } else if (p[i] == '\\' || p[i] == (unsigned char)quote ||
                   p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
            len += 2;
        } else {
            len += 1;
        }
    }
    return len;
}

size_t pyrepr_format(char *out, const void *data, size_t n)
{
    const unsigned char *p = data;
    char quote = pyrepr_quote(p, n);
    char *o = out;
    size_t i;

    *o++ = 'b';
    *o++ = quote;
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];

        if (c == '\\' || c == (unsigned char)quote) {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\t') {
            *o++ = '\\';
            *o++ = 't';
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (c == '\r') {
            *o++ = '\\';
            *o++ = 'r';
        } else if (pyrepr_needs_hex(c)) {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = pyrepr_hex[c >> 4];
            *o++ = pyrepr_hex[c & 0x0f];
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = quote;
    *o = '\0';
    return (size_t)(o - out);
}

ssize_t pyrepr_scan(const char *buf, size_t len)
{
    char quote;
    size_t i;

    if (len < 1) {
        return 0;
    }
    if (buf[0] != 'b') {
        return -1;
    }
    if (len < 2) {
        return 0;
    }
    quote = buf[1];
    if (quote != '\'' && quote != '"') {
        return -1;
    }
    /* The body is not validated: the client prints it as it came. */
    for (i = 2; i < len; i++) {
        if (buf[i] == '\\') {
            i++;
        } else if (buf[i] == quote) {
            return (ssize_t)(i + 1);
        }
    }
    return 0;
}
