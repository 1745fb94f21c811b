/* linebuf: incremental line framing (see linebuf.h). */
#include "linebuf.h"

#include <assert.h>
#include <string.h>

void linebuf_init(struct linebuf *lb, unsigned char *storage, size_t cap)
{
    assert(storage != NULL && cap >= 1);
    lb->buf = storage;
    lb->cap = cap;
    lb->start = 0;
    lb->end = 0;
    lb->scanned = 0;
    lb->skipping = 0;
}

size_t linebuf_feed(struct linebuf *lb, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t dropped = 0;
    size_t take;

    if (lb->skipping) {
        const unsigned char *nl = memchr(p, '\n', len);
        if (nl == NULL) {
            return len;
        }
        dropped = (size_t)(nl - p) + 1;
        p += dropped;
        len -= dropped;
        lb->skipping = 0;
    }
    /* Lines handed out are gone: move what is left to the front. */
    if (lb->start > 0) {
        memmove(lb->buf, lb->buf + lb->start, lb->end - lb->start);
        lb->end -= lb->start;
        lb->start = 0;
    }
    take = lb->cap - lb->end;
    if (take > len) {
        take = len;
    }
    if (take > 0) {
        memcpy(lb->buf + lb->end, p, take);
        lb->end += take;
    }
    return dropped + take;
}

int linebuf_next(struct linebuf *lb, const unsigned char **line, size_t *len)
{
    size_t held = lb->end - lb->start;
    const unsigned char *from = lb->buf + lb->start;
    const unsigned char *nl;

    /* Bytes already scanned hold no "\n": look only at the new ones. */
    nl = memchr(from + lb->scanned, '\n', held - lb->scanned);
    if (nl != NULL) {
        *line = from;
        *len = (size_t)(nl - from) + 1;
        lb->start += *len;
        lb->scanned = 0;
        return LINEBUF_LINE;
    }
    lb->scanned = held;
    if (held < lb->cap) {
        return LINEBUF_NEED_MORE;
    }
    *line = from;
    *len = held;
    lb->start = lb->end;
    lb->scanned = 0;
    return LINEBUF_OVERLONG;
}

void linebuf_skip_line(struct linebuf *lb)
{
    size_t held = lb->end - lb->start;
    const unsigned char *from = lb->buf + lb->start;
    const unsigned char *nl = memchr(from, '\n', held);

    lb->scanned = 0;
    if (nl != NULL) {
        lb->start += (size_t)(nl - from) + 1;
        return;
    }
    lb->start = lb->end;
    lb->skipping = 1;
}

int linebuf_take_rest(struct linebuf *lb, const unsigned char **rest,
                      size_t *len)
{
    size_t held = lb->end - lb->start;

    if (held == 0) {
        return 0;
    }
    *rest = lb->buf + lb->start;
    *len = held;
    lb->start = lb->end;
    lb->scanned = 0;
    return 1;
}

size_t linebuf_pending(const struct linebuf *lb)
{
    return lb->end - lb->start;
}

size_t linebuf_strip_eol(const unsigned char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\n') {
        len--;
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
    }
    return len;
}
