/*
 * A message over 1024 bytes is not an error here: the slide server simply
 * answered each recv(1024), so a long line comes back in 1024-byte pieces.
 */
#include "echorepr.h"

#include "pyrepr.h"

#include <errno.h>
#include <stdlib.h>

int echorepr_reply(const void *msg, size_t len, struct io_buf *out)
{
    char small[PYREPR_BOUND(ECHOREPR_MSG_MAX)];
    char *repr = small;
    size_t n;
    int rc;

    if (PYREPR_BOUND(len) > sizeof(small)) {
        repr = malloc(PYREPR_BOUND(len));
        if (repr == NULL) {
            errno = ENOMEM;
            return -1;
        }
    }
    n = pyrepr_format(repr, msg, len);
    rc = io_buf_append(out, ECHOREPR_PREFIX, sizeof(ECHOREPR_PREFIX) - 1);
    if (rc == 0) {
        rc = io_buf_append(out, repr, n);
    }
    if (repr != small) {
        free(repr);
    }
    return rc;
}

void echorepr_conn_init(struct echorepr_conn *c)
{
    linebuf_init(&c->lb, c->storage, sizeof(c->storage));
}

int echorepr_conn_feed(struct echorepr_conn *c, const void *data, size_t len,
                       struct io_buf *out)
{
    const unsigned char *p = data;

    while (len > 0) {
        size_t used = linebuf_feed(&c->lb, p, len);
        const unsigned char *msg;
        size_t n;

        p += used;
        len -= used;
        /* A line and a full 1024-byte chunk are both one message. */
        while (linebuf_next(&c->lb, &msg, &n) != LINEBUF_NEED_MORE) {
            if (echorepr_reply(msg, n, out) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int echorepr_conn_eof(struct echorepr_conn *c, struct io_buf *out)
{
    const unsigned char *rest;
    size_t n;

    if (!linebuf_take_rest(&c->lb, &rest, &n)) {
        return 0;
    }
    return echorepr_reply(rest, n, out);
}
