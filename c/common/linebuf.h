/*
 * linebuf: incremental line framing over caller-owned storage.
 *
 * Bytes arrive in whatever chunks recv() returns; linebuf_feed() copies
 * them in and linebuf_next() hands out one line at a time. A line is at
 * most cap bytes including its "\n". When cap bytes arrive without a "\n"
 * linebuf_next() reports LINEBUF_OVERLONG and hands out those cap bytes as
 * a chunk: a protocol where that is a message (echo-repr, ack) uses it,
 * one where it is an error (calc, login) replies and calls
 * linebuf_skip_line() to discard the rest of that line. Nothing is ever
 * truncated silently.
 *
 * Typical use in an on_data callback:
 *
 *     while (len > 0) {
 *         size_t used = linebuf_feed(&lb, data, len);
 *         data += used;
 *         len -= used;
 *         while ((r = linebuf_next(&lb, &line, &n)) != LINEBUF_NEED_MORE)
 *             ... handle line/n (r is LINEBUF_LINE or LINEBUF_OVERLONG) ...
 *     }
 *
 * At EOF, linebuf_take_rest() hands out the unterminated remainder.
 */
#ifndef SL_LINEBUF_H
#define SL_LINEBUF_H

#include <stddef.h>

enum linebuf_result {
    LINEBUF_OVERLONG = -1, /* cap bytes without a "\n" */
    LINEBUF_NEED_MORE = 0, /* no complete line is held yet */
    LINEBUF_LINE = 1       /* a line, "\n" included */
};

/* Fields are private; the struct is public only so callers can embed it. */
struct linebuf {
    unsigned char *buf; /* caller storage, cap bytes */
    size_t cap;         /* longest line, "\n" included */
    size_t start;       /* first byte not yet handed out */
    size_t end;         /* one past the last byte held */
    size_t scanned;     /* bytes after start known to hold no "\n" */
    int skipping;       /* dropping input up to the next "\n" */
};

/* Makes lb empty, framing lines of at most cap (>= 1) bytes in storage. */
void linebuf_init(struct linebuf *lb, unsigned char *storage, size_t cap);

/*
 * Returns how many of the len bytes at data were taken (fewer than len
 * only when the storage is full: take lines out with linebuf_next(), then
 * feed the rest); taking bytes invalidates lines handed out before.
 */
size_t linebuf_feed(struct linebuf *lb, const void *data, size_t len);

/*
 * Returns LINEBUF_LINE with *line and *len set to the next line ("\n"
 * included), LINEBUF_NEED_MORE if no complete line is held, or
 * LINEBUF_OVERLONG with *line and *len set to cap bytes that hold no "\n";
 * what is handed out stays valid until the next linebuf_feed().
 */
int linebuf_next(struct linebuf *lb, const unsigned char **line, size_t *len);

/*
 * Discards held and future input up to and including the next "\n" (use
 * it after LINEBUF_OVERLONG to drop the rest of an overlong line).
 */
void linebuf_skip_line(struct linebuf *lb);

/*
 * Returns 1 with *rest and *len set to the held bytes that no "\n" ended (and
 * empties lb), or 0 if nothing is held; call it at EOF once linebuf_next()
 * says LINEBUF_NEED_MORE.
 */
int linebuf_take_rest(struct linebuf *lb, const unsigned char **rest,
                      size_t *len);

/* Returns the number of bytes held and not yet handed out. */
size_t linebuf_pending(const struct linebuf *lb);

/*
 * Returns len minus a trailing "\n" and a "\r" just before it, so that
 * line[0..result) is the line's content.
 */
size_t linebuf_strip_eol(const unsigned char *line, size_t len);

#endif
