/*
 * loop: the poll()-based multi-client TCP server loop used by every C TCP
 * server.
 *
 * The loop owns the sockets; a protocol supplies callbacks and a size of
 * per-connection state (zeroed at accept). Each connection has its own
 * output buffer: loop_send() queues bytes, the loop writes them as the
 * client accepts them and asks poll() for POLLOUT only while some are
 * pending. While a connection has much output pending the loop stops
 * reading from it, so a client that never reads cannot make the server
 * buffer without bound.
 *
 * Closing: loop_close_after_flush() makes the loop finish the connection
 * with the lingering close of protocols/README.md (write what is pending,
 * shutdown(SHUT_WR), read and discard until the client's EOF or for at
 * most LOOP_LINGER_MS, then close). After the client's EOF, on_eof runs
 * and the connection is closed once its output is written. A client that
 * resets simply disappears (on_close still runs).
 *
 * loop_run() ignores SIGPIPE and catches SIGINT and SIGTERM for as long as
 * it runs: either signal makes it close every connection and return 0.
 * Only one loop may run per process at a time.
 */
#ifndef SL_LOOP_H
#define SL_LOOP_H

#include <stddef.h>

/* How long a lingering close waits for the client's EOF. */
#define LOOP_LINGER_MS 1000

/* Pending output above which the loop stops reading a connection. */
#define LOOP_HIGH_WATER (64 * 1024)

struct loop_conn;

/*
 * A protocol's callbacks; any may be NULL. on_open, on_data and on_eof
 * return 0 to go on or -1 to drop the connection at once (no lingering).
 */
struct loop_proto {
    size_t state_size; /* bytes of zeroed per-connection state */
    /* a client connected: may queue a greeting, may ask to close */
    int (*on_open)(struct loop_conn *c);
    /* bytes arrived; not called any more once a close was asked for */
    int (*on_data)(struct loop_conn *c, const unsigned char *data, size_t len);
    /* the client half-closed: may queue a last reply */
    int (*on_eof)(struct loop_conn *c);
    /* the connection is about to go: release what the state holds */
    void (*on_close)(struct loop_conn *c);
};

/*
 * Returns 0 when SIGINT or SIGTERM ended the loop (every connection then
 * closed, signal dispositions restored), or -1 with errno set on a fatal
 * error; listen_fd is made non-blocking and stays open for the caller.
 */
int loop_run(int listen_fd, const struct loop_proto *proto, void *ctx);

/* Returns 0 after queueing len bytes of output on c, or -1 with ENOMEM. */
int loop_send(struct loop_conn *c, const void *data, size_t len);

/* Asks for c's lingering close once its queued output is written. */
void loop_close_after_flush(struct loop_conn *c);

/* Returns c's per-connection state (state_size zeroed bytes, or NULL). */
void *loop_conn_state(struct loop_conn *c);

/* Returns the ctx pointer given to loop_run(). */
void *loop_conn_ctx(struct loop_conn *c);

/* Returns the client's address as "host:port" text. */
const char *loop_conn_peer(const struct loop_conn *c);

/*
 * Returns the new soft RLIMIT_NOFILE after raising it to the hard limit
 * (loop_run() does this itself), or -1 with errno set.
 */
long loop_raise_nofile(void);

#endif
