/*
 * One line buffer of SMTP_DATA_LINE_MAX serves both states: a command
 * line is judged "too long" by its length once framed, so pipelined
 * commands followed by mail data never have to be re-framed when DATA
 * switches state in the middle of a segment.
 */
#include "smtp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define R_GREETING "220 " SMTP_SERVER_NAME " ESMTP ready\r\n"
#define R_EHLO                                                                 \
    "250-" SMTP_SERVER_NAME "\r\n250-8BITMIME\r\n250-SIZE 1048576\r\n"         \
    "250 HELP\r\n"
#define R_HELO     "250 " SMTP_SERVER_NAME "\r\n"
#define R_OK       "250 OK\r\n"
#define R_DATA     "354 End data with <CR><LF>.<CR><LF>\r\n"
#define R_BYE      "221 Bye\r\n"
#define R_TOO_MANY "452 Too many recipients\r\n"
#define R_LONG     "500 Line too long\r\n"
#define R_BARE_LF  "500 Bare LF not allowed\r\n"
#define R_UNKNOWN  "500 Command unrecognized\r\n"
#define R_SYNTAX   "501 Syntax error in parameters\r\n"
#define R_NOT_IMPL "502 Command not implemented\r\n"
#define R_SEQUENCE "503 Bad sequence of commands\r\n"
#define R_SIZE     "552 Message size exceeds fixed maximum message size\r\n"
#define R_DATA_LF  "554 Bare LF not allowed\r\n"

/* Verbs RFC 5321 and its extensions define that the lesson leaves out. */
static const char *const smtp_not_impl[] = {
    "VRFY", "EXPN",     "HELP", "TURN", "ETRN",
    "AUTH", "STARTTLS", "SEND", "SOML", "SAML",
};

static int smtp_reply(struct smtp_result *res, const char *reply, int ev)
{
    res->reply = reply;
    res->reply_len = strlen(reply);
    return ev;
}

static bool smtp_ieq(const char *a, size_t alen, const char *b)
{
    size_t i;

    if (alen != strlen(b)) {
        return false;
    }
    for (i = 0; i < alen; i++) {
        char x = a[i];

        if (x >= 'a' && x <= 'z') {
            x = (char)(x - 'a' + 'A');
        }
        if (x != b[i]) {
            return false;
        }
    }
    return true;
}

/* True when the len bytes at p start with prefix, ignoring ASCII case. */
static bool smtp_iprefix(const char *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && smtp_ieq(p, n, prefix);
}

const char *smtp_greeting(void)
{
    return R_GREETING;
}

static void smtp_drop_transaction(struct smtp_session *s)
{
    s->msg.len = 0;
    s->nrcpt = 0;
    s->data_len = 0;
    s->data_long = false;
    s->data_bare_lf = false;
    if (s->state != SMTP_S_INIT) {
        s->state = SMTP_S_READY;
    }
}

void smtp_init(struct smtp_session *s)
{
    memset(s, 0, sizeof(*s));
    s->state = SMTP_S_INIT;
    linebuf_init(&s->lb, s->storage, sizeof(s->storage));
}

void smtp_free(struct smtp_session *s)
{
    io_buf_free(&s->msg);
}

size_t smtp_feed(struct smtp_session *s, const void *data, size_t len)
{
    return linebuf_feed(&s->lb, data, len);
}

bool smtp_in_data(const struct smtp_session *s)
{
    return s->state == SMTP_S_DATA;
}

/*
 * Parses "<path>" then nothing or " params" in p[0..len); returns the
 * path's length (its bytes start at p + 1) or -1 on bad syntax. *size is
 * set to the SIZE= parameter's value (0 when absent, SIZE_MAX when it
 * does not fit).
 */
static long smtp_path(const char *p, size_t len, bool null_ok, size_t *size)
{
    size_t i;
    size_t plen;

    *size = 0;
    if (len > 0 && p[0] == ' ') {
        p++;
        len--;
    }
    if (len < 2 || p[0] != '<') {
        return -1;
    }
    for (i = 1; i < len && p[i] != '>'; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c <= 0x20 || c == 0x7f || c == '<') {
            return -1;
        }
    }
    if (i == len) {
        return -1;
    }
    plen = i - 1;
    if ((plen == 0 && !null_ok) || plen > SMTP_PATH_MAX) {
        return -1;
    }
    i++;
    if (i < len && p[i] != ' ') {
        return -1;
    }
    /* Parameters: only SIZE=n matters; the rest are accepted unread. */
    while (i < len) {
        size_t start;

        while (i < len && p[i] == ' ') {
            i++;
        }
        start = i;
        while (i < len && p[i] != ' ') {
            i++;
        }
        if (i - start > 5 && smtp_iprefix(p + start, i - start, "SIZE=")) {
            size_t k;
            size_t v = 0;

            for (k = start + 5; k < i; k++) {
                if (p[k] < '0' || p[k] > '9') {
                    return -1;
                }
                v = v > (SIZE_MAX - 9) / 10 ? SIZE_MAX
                                            : v * 10 + (size_t)(p[k] - '0');
            }
            *size = v;
        }
    }
    return (long)plen;
}

static int smtp_append_env(struct smtp_session *s, const char *name,
                           const char *path, size_t plen)
{
    /* name "<" path ">\r\n": path already has its "<" before it. */
    if (io_buf_append(&s->msg, name, strlen(name)) < 0 ||
        io_buf_append(&s->msg, path - 1, plen + 2) < 0 ||
        io_buf_append(&s->msg, "\r\n", 2) < 0) {
        return -1;
    }
    return 0;
}

static int smtp_mail(struct smtp_session *s, const char *arg, size_t alen,
                     struct smtp_result *res)
{
    size_t size;
    long plen;

    if (!smtp_iprefix(arg, alen, " FROM:")) {
        return smtp_reply(res, R_SYNTAX, SMTP_REPLY);
    }
    plen = smtp_path(arg + 6, alen - 6, true, &size);
    if (plen < 0) {
        return smtp_reply(res, R_SYNTAX, SMTP_REPLY);
    }
    if (s->state != SMTP_S_READY) {
        return smtp_reply(res, R_SEQUENCE, SMTP_REPLY);
    }
    if (size > SMTP_SIZE_MAX) {
        return smtp_reply(res, R_SIZE, SMTP_REPLY);
    }
    smtp_drop_transaction(s);
    if (smtp_append_env(
            s, "X-Envelope-From: ", (const char *)memchr(arg, '<', alen) + 1,
            (size_t)plen) < 0) {
        return SMTP_ERROR;
    }
    s->state = SMTP_S_MAIL;
    return smtp_reply(res, R_OK, SMTP_REPLY);
}

static int smtp_rcpt(struct smtp_session *s, const char *arg, size_t alen,
                     struct smtp_result *res)
{
    size_t size;
    long plen;

    if (!smtp_iprefix(arg, alen, " TO:")) {
        return smtp_reply(res, R_SYNTAX, SMTP_REPLY);
    }
    plen = smtp_path(arg + 4, alen - 4, false, &size);
    if (plen < 0) {
        return smtp_reply(res, R_SYNTAX, SMTP_REPLY);
    }
    if (s->state != SMTP_S_MAIL && s->state != SMTP_S_RCPT) {
        return smtp_reply(res, R_SEQUENCE, SMTP_REPLY);
    }
    if (s->nrcpt >= SMTP_RCPT_MAX) {
        return smtp_reply(res, R_TOO_MANY, SMTP_REPLY);
    }
    if (smtp_append_env(
            s, "X-Envelope-To: ", (const char *)memchr(arg, '<', alen) + 1,
            (size_t)plen) < 0) {
        return SMTP_ERROR;
    }
    s->nrcpt++;
    s->state = SMTP_S_RCPT;
    return smtp_reply(res, R_OK, SMTP_REPLY);
}

/* One command line, CRLF already stripped. */
static int smtp_command(struct smtp_session *s, const char *line, size_t len,
                        struct smtp_result *res)
{
    const char *sp = memchr(line, ' ', len);
    size_t vlen = sp != NULL ? (size_t)(sp - line) : len;
    const char *arg = line + vlen;
    size_t alen = len - vlen;
    size_t i;

    if (smtp_ieq(line, vlen, "EHLO") || smtp_ieq(line, vlen, "HELO")) {
        size_t k = 0;

        while (k < alen && arg[k] == ' ') {
            k++;
        }
        if (k == alen) {
            return smtp_reply(res, R_SYNTAX, SMTP_REPLY);
        }
        s->state = SMTP_S_READY;
        smtp_drop_transaction(s);
        return smtp_reply(res,
                          line[0] == 'E' || line[0] == 'e' ? R_EHLO : R_HELO,
                          SMTP_REPLY);
    }
    if (smtp_ieq(line, vlen, "MAIL")) {
        return smtp_mail(s, arg, alen, res);
    }
    if (smtp_ieq(line, vlen, "RCPT")) {
        return smtp_rcpt(s, arg, alen, res);
    }
    if (smtp_ieq(line, vlen, "DATA")) {
        if (s->state != SMTP_S_RCPT) {
            return smtp_reply(res, R_SEQUENCE, SMTP_REPLY);
        }
        s->state = SMTP_S_DATA;
        return smtp_reply(res, R_DATA, SMTP_REPLY);
    }
    if (smtp_ieq(line, vlen, "RSET")) {
        smtp_drop_transaction(s);
        return smtp_reply(res, R_OK, SMTP_REPLY);
    }
    if (smtp_ieq(line, vlen, "NOOP")) {
        return smtp_reply(res, R_OK, SMTP_REPLY);
    }
    if (smtp_ieq(line, vlen, "QUIT")) {
        return smtp_reply(res, R_BYE, SMTP_QUIT);
    }
    for (i = 0; i < sizeof(smtp_not_impl) / sizeof(smtp_not_impl[0]); i++) {
        if (smtp_ieq(line, vlen, smtp_not_impl[i])) {
            return smtp_reply(res, R_NOT_IMPL, SMTP_REPLY);
        }
    }
    return smtp_reply(res, R_UNKNOWN, SMTP_REPLY);
}

/* One mail data line as framed ("\n" included unless overlong). */
static int smtp_data_line(struct smtp_session *s, const unsigned char *line,
                          size_t len, bool overlong, struct smtp_result *res)
{
    size_t n = linebuf_strip_eol(line, len);
    bool crlf = n + 2 == len;

    if (overlong) {
        s->data_long = true;
        return SMTP_NEED_MORE;
    }
    if (n == 1 && line[0] == '.') {
        const char *reply = NULL;

        if (s->data_long) {
            reply = R_LONG;
        } else if (s->data_bare_lf || !crlf) {
            reply = R_DATA_LF;
        } else if (s->data_len > SMTP_SIZE_MAX) {
            reply = R_SIZE;
        }
        s->state = SMTP_S_READY;
        if (reply != NULL) {
            smtp_drop_transaction(s);
            return smtp_reply(res, reply, SMTP_REPLY);
        }
        res->msg = s->msg.data;
        res->msg_len = s->msg.len;
        res->nrcpt = s->nrcpt;
        s->delivered = true;
        return smtp_reply(res, R_OK, SMTP_DELIVER);
    }
    if (!crlf) {
        s->data_bare_lf = true;
    }
    /* Dot-stuffing (RFC 5321 4.5.2): a leading "." was doubled. */
    if (line[0] == '.') {
        line++;
        len--;
    }
    s->data_len += len;
    if (s->data_len <= SMTP_SIZE_MAX && !s->data_long && !s->data_bare_lf) {
        if (io_buf_append(&s->msg, line, len) < 0) {
            return SMTP_ERROR;
        }
    }
    return SMTP_NEED_MORE;
}

int smtp_next(struct smtp_session *s, struct smtp_result *res)
{
    const unsigned char *line;
    size_t len;
    int r;

    res->reply = NULL;
    res->reply_len = 0;
    res->msg = NULL;
    res->msg_len = 0;
    res->nrcpt = 0;
    if (s->delivered) {
        s->delivered = false;
        smtp_drop_transaction(s);
    }
    while ((r = linebuf_next(&s->lb, &line, &len)) != LINEBUF_NEED_MORE) {
        size_t n;
        int ev;

        if (r == LINEBUF_OVERLONG) {
            linebuf_skip_line(&s->lb);
        }
        if (s->state == SMTP_S_DATA) {
            ev = smtp_data_line(s, line, len, r == LINEBUF_OVERLONG, res);
            if (ev != SMTP_NEED_MORE) {
                return ev;
            }
            continue;
        }
        if (r == LINEBUF_OVERLONG || len > SMTP_CMD_MAX) {
            return smtp_reply(res, R_LONG, SMTP_REPLY);
        }
        n = linebuf_strip_eol(line, len);
        if (n + 2 != len) {
            return smtp_reply(res, R_BARE_LF, SMTP_REPLY);
        }
        return smtp_command(s, (const char *)line, n, res);
    }
    return SMTP_NEED_MORE;
}
