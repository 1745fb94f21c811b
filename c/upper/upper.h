/*
 * upper: the seed 001 transformation, ASCII-only. Bytes a-z become A-Z and
 * every other byte, UTF-8 included, is copied unchanged. Pure: no I/O.
 */
#ifndef UPPER_H
#define UPPER_H

#include <stddef.h>

#include "io.h"
#include "linebuf.h"

/* Longest request, in bytes, before the server answers UPPER_ERR_LONG. */
#define UPPER_LINE_MAX 1024

#define UPPER_ERR_LONG "ERRO linha longa demais\n"

/*
 * Returns dst after writing src[0..n) with a-z mapped to A-Z; dst and src
 * may be the same buffer.
 */
char *upper_map(char *dst, const char *src, size_t n);

/*
 * The server's side of one connection: one request, framed at
 * UPPER_LINE_MAX bytes. Embed it in the connection state; it must not move
 * once upper_conn_init has run.
 */
struct upper_conn {
    struct linebuf lb;
    unsigned char storage[UPPER_LINE_MAX];
};

/* Returns nothing; makes c ready for a new connection's first byte. */
void upper_conn_init(struct upper_conn *c);

/*
 * Returns 1 once the reply is appended to out (the request ended with
 * "\n", or UPPER_LINE_MAX bytes came without one: UPPER_ERR_LONG; either
 * way the connection is done and later input is ignored), 0 if more input
 * is needed, or -1 with errno ENOMEM.
 */
int upper_conn_feed(struct upper_conn *c, const void *data, size_t len,
                    struct io_buf *out);

/*
 * Returns 0 after appending to out the reply to the request EOF ended
 * (nothing for an empty one), or -1 with errno ENOMEM.
 */
int upper_conn_eof(struct upper_conn *c, struct io_buf *out);

#endif /* UPPER_H */
