/*
 * Deliberately not toupper(3): it depends on the locale, and the contract
 * says only the 26 ASCII letters change.
 */
#include "upper.h"

char *upper_map(char *dst, const char *src, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char c = src[i];

        dst[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    return dst;
}

static int upper_conn_reply(const unsigned char *req, size_t len,
                            struct io_buf *out)
{
    char buf[UPPER_LINE_MAX];

    upper_map(buf, (const char *)req, len);
    return io_buf_append(out, buf, len);
}

void upper_conn_init(struct upper_conn *c)
{
    linebuf_init(&c->lb, c->storage, sizeof(c->storage));
}

int upper_conn_feed(struct upper_conn *c, const void *data, size_t len,
                    struct io_buf *out)
{
    const unsigned char *req;
    size_t n;
    int r;

    /*
     * The storage holds exactly one request, so whatever does not fit can
     * only follow a "\n" or the 1024th byte: after the reply, ignored.
     */
    linebuf_feed(&c->lb, data, len);
    r = linebuf_next(&c->lb, &req, &n);
    if (r == LINEBUF_NEED_MORE) {
        return 0;
    }
    if (r == LINEBUF_OVERLONG) {
        if (io_buf_append(out, UPPER_ERR_LONG, sizeof(UPPER_ERR_LONG) - 1) <
            0) {
            return -1;
        }
        return 1;
    }
    return upper_conn_reply(req, n, out) < 0 ? -1 : 1;
}

int upper_conn_eof(struct upper_conn *c, struct io_buf *out)
{
    const unsigned char *rest;
    size_t n;

    if (!linebuf_take_rest(&c->lb, &rest, &n)) {
        return 0;
    }
    return upper_conn_reply(rest, n, out);
}
