/*
 * Decoding judges every byte (NUL and 0x80 up included) by its 6-bit
 * value or BASE64_BAD, and "=" is only looked at in the last group, so
 * padding anywhere else is simply a bad character.
 */
#include "base64.h"

#include <errno.h>
#include <stdint.h>

#define BASE64_BAD 0xff

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static unsigned char base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (unsigned char)(c - 'A');
    }
    if (c >= 'a' && c <= 'z') {
        return (unsigned char)(c - 'a' + 26);
    }
    if (c >= '0' && c <= '9') {
        return (unsigned char)(c - '0' + 52);
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return BASE64_BAD;
}

size_t base64_encoded_len(size_t n)
{
    size_t groups = n / 3 + (n % 3 != 0);

    if (groups > SIZE_MAX / 4) {
        return 0;
    }
    return groups * 4;
}

size_t base64_decoded_max(size_t len)
{
    return len / 4 * 3;
}

size_t base64_encode(char *dst, const void *src, size_t n)
{
    const unsigned char *s = src;
    size_t o = 0;
    size_t i;

    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

        dst[o++] = base64_alphabet[v >> 18 & 0x3f];
        dst[o++] = base64_alphabet[v >> 12 & 0x3f];
        dst[o++] = base64_alphabet[v >> 6 & 0x3f];
        dst[o++] = base64_alphabet[v & 0x3f];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;

        dst[o++] = base64_alphabet[v >> 18 & 0x3f];
        dst[o++] = base64_alphabet[v >> 12 & 0x3f];
        dst[o++] = '=';
        dst[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;

        dst[o++] = base64_alphabet[v >> 18 & 0x3f];
        dst[o++] = base64_alphabet[v >> 12 & 0x3f];
        dst[o++] = base64_alphabet[v >> 6 & 0x3f];
        dst[o++] = '=';
    }
    return o;
}

ssize_t base64_decode(void *dst, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = dst;
    size_t o = 0;
    size_t i;

    if (len % 4 != 0) {
        goto bad;
    }
    for (i = 0; i < len; i += 4) {
        unsigned char a = base64_value(s[i]);
        unsigned char b = base64_value(s[i + 1]);
        unsigned char c = base64_value(s[i + 2]);
        unsigned char e = base64_value(s[i + 3]);
        int last = i + 4 == len;

        if (a == BASE64_BAD || b == BASE64_BAD) {
            goto bad;
        }
        d[o++] = (unsigned char)(a << 2 | b >> 4);
        if (last && s[i + 2] == '=' && s[i + 3] == '=') {
            /* One byte: the low 4 bits of b are padding and must be 0. */
            if ((b & 0x0f) != 0) {
                goto bad;
            }
            break;
        }
        if (c == BASE64_BAD) {
            goto bad;
        }
        d[o++] = (unsigned char)((b & 0x0f) << 4 | c >> 2);
        if (last && s[i + 3] == '=') {
            if ((c & 0x03) != 0) {
                goto bad;
            }
            break;
        }
        if (e == BASE64_BAD) {
            goto bad;
        }
        d[o++] = (unsigned char)((c & 0x03) << 6 | e);
    }
    return (ssize_t)o;

bad:
    errno = EINVAL;
    return -1;
}
