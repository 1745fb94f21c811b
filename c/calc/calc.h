/*
 * calc: the seed 001 exercise, `OP A B` -> result, as pinned by the brief
 * (check order, operand syntax, range, "%.6f" then trimmed). Pure: no I/O.
 */
#ifndef CALC_H
#define CALC_H

#include <stddef.h>

#include "io.h"
#include "linebuf.h"

/* Longest request line in bytes, "\n" included. */
#define CALC_LINE_MAX 256

/* Room for any reply calc_eval writes, NUL included. */
#define CALC_REPLY_MAX 64

/* The framing's reply to a line of CALC_LINE_MAX bytes with no "\n". */
#define CALC_ERR_LONG "ERRO linha longa demais"

/*
 * Returns the length of the reply (no "\n") written NUL-terminated into out,
 * which must hold CALC_REPLY_MAX bytes, for the request line[0..len) given
 * without its "\n"; one trailing "\r" is ignored. Never fails: a bad request
 * gets its "ERRO ..." reply (CALC_ERR_LONG when len >= CALC_LINE_MAX, which
 * the server's framing already answers before the line ends).
 */
size_t calc_eval(const char *line, size_t len, char *out);

/*
 * The server's side of one connection: lines framed at CALC_LINE_MAX bytes,
 * each answered with its reply and "\n", in order. Embed it in the
 * connection state; it must not move once calc_conn_init has run.
 */
struct calc_conn {
    struct linebuf lb;
    unsigned char storage[CALC_LINE_MAX];
};

/* Returns nothing; makes c ready for a new connection's first byte. */
void calc_conn_init(struct calc_conn *c);

/*
 * Returns 0 after appending to out the reply of every line data[0..len)
 * completes (CALC_ERR_LONG as soon as CALC_LINE_MAX bytes hold no "\n",
 * the rest of that line then being dropped), or -1 with errno ENOMEM.
 */
int calc_conn_feed(struct calc_conn *c, const void *data, size_t len,
                   struct io_buf *out);

/*
 * Returns 0 after appending to out the reply to a last line that EOF cut
 * short (nothing if none is held), or -1 with errno ENOMEM.
 */
int calc_conn_eof(struct calc_conn *c, struct io_buf *out);

#endif /* CALC_H */
