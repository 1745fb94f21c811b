/*
 * echorepr: the server's framing for echo-repr (seed 002 "Servidor 2"). A
 * message is a line up to and including "\n", 1024 bytes with no "\n", or
 * the remainder at EOF; each is answered `Echo ==>` + pyrepr of it, with
 * no terminator. Pure: replies go to a buffer, not a socket.
 */
#ifndef ECHOREPR_H
#define ECHOREPR_H

#include <stddef.h>

#include "io.h"
#include "linebuf.h"

/* Longest message in bytes; a longer line is answered in pieces. */
#define ECHOREPR_MSG_MAX 1024

#define ECHOREPR_PREFIX "Echo ==>"

/* Embed it in the connection state; it must not move after init. */
struct echorepr_conn {
    struct linebuf lb;
    unsigned char storage[ECHOREPR_MSG_MAX];
};

/* Returns nothing; makes c ready for a new connection's first byte. */
void echorepr_conn_init(struct echorepr_conn *c);

/*
 * Returns 0 after appending to out the reply to every message data[0..len)
 * completes, or -1 with errno ENOMEM.
 */
int echorepr_conn_feed(struct echorepr_conn *c, const void *data, size_t len,
                       struct io_buf *out);

/*
 * Returns 0 after appending to out the reply to the unterminated remainder
 * held at EOF (nothing when none is held), or -1 with errno ENOMEM.
 */
int echorepr_conn_eof(struct echorepr_conn *c, struct io_buf *out);

/*
 * Returns 0 after appending `Echo ==>` and the repr of msg[0..len) to out,
 * or -1 with errno ENOMEM.
 */
int echorepr_reply(const void *msg, size_t len, struct io_buf *out);

#endif /* ECHOREPR_H */
