/*
 * Both lines of a pair are read before either is judged, so a client always
 * sends two lines and reads one reply: empty beats invalid, and the user
 * line's verdict waits for the password.
 */
#include "login.h"

#include <string.h>

#define LOGIN_REPLY_OK      "OK\n"
#define LOGIN_REPLY_EMPTY   "ERRO usuario ou senha vazio\n"
#define LOGIN_REPLY_INVALID "ERRO usuario ou senha invalido\n"

static size_t login_strip_cr(const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    return len;
}

/* Too long, a control byte (DEL included), or (user only) a ':'. */
static bool login_invalid(const char *p, size_t len, bool is_user)
{
    size_t i;

    if (len > LOGIN_FIELD_MAX) {
        return true;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c < 0x20 || c == 0x7f || (is_user && c == ':')) {
            return true;
        }
    }
    return false;
}

static enum login_status login_refuse(struct login_result *res,
                                      const char *reply)
{
    res->reply = reply;
    res->reply_len = strlen(reply);
    return LOGIN_AGAIN;
}

void login_init(struct login *l)
{
    memset(l, 0, sizeof(*l));
}

enum login_status login_feed(struct login *l, const char *line, size_t len,
                             struct login_result *res)
{
    bool pass_empty;
    bool pass_invalid;
    char *o;

    res->reply = NULL;
    res->reply_len = 0;
    res->log_len = 0;
    res->log[0] = '\0';

    len = login_strip_cr(line, len);
    if (!l->have_user) {
        l->have_user = true;
        l->user_empty = len == 0;
        l->user_invalid = login_invalid(line, len, true);
        l->user_len = l->user_invalid ? 0 : len;
        memcpy(l->user, line, l->user_len);
        return LOGIN_MORE;
    }

    l->have_user = false;
    pass_empty = len == 0;
    pass_invalid = login_invalid(line, len, false);
    if (l->user_empty || pass_empty) {
        return login_refuse(res, LOGIN_REPLY_EMPTY);
    }
    if (l->user_invalid || pass_invalid) {
        return login_refuse(res, LOGIN_REPLY_INVALID);
    }

    o = res->log;
    memcpy(o, l->user, l->user_len);
    o += l->user_len;
    *o++ = ':';
    memcpy(o, line, len);
    o += len;
    *o++ = '\n';
    *o = '\0';
    res->log_len = (size_t)(o - res->log);
    res->reply = LOGIN_REPLY_OK;
    res->reply_len = strlen(LOGIN_REPLY_OK);
    return LOGIN_OK;
}

void login_conn_init(struct login_conn *c)
{
    login_init(&c->st);
    linebuf_init(&c->lb, c->storage, sizeof(c->storage));
}

size_t login_conn_feed(struct login_conn *c, const void *data, size_t len)
{
    return linebuf_feed(&c->lb, data, len);
}

enum login_status login_conn_next(struct login_conn *c,
                                  struct login_result *res)
{
    const unsigned char *line;
    size_t n;
    int r;

    while ((r = linebuf_next(&c->lb, &line, &n)) != LINEBUF_NEED_MORE) {
        enum login_status st;

        if (r == LINEBUF_OVERLONG) {
            /* The first 256 bytes are enough to make the field invalid. */
            linebuf_skip_line(&c->lb);
        } else {
            n--;
        }
        st = login_feed(&c->st, (const char *)line, n, res);
        if (st != LOGIN_MORE) {
            return st;
        }
    }
    return LOGIN_MORE;
}
