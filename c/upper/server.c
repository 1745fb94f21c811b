/*
 * upper server: one request per connection (up to the first "\n", or to
 * the client's EOF), returned with a-z mapped to A-Z and every other byte
 * unchanged, then a lingering close. Many clients at once, until
 * SIGINT/SIGTERM.
 *
 * Slide: seed 001, the Python server on port 12000 (one recv(1024),
 * bytes.upper(), close). This one frames the request instead of trusting
 * one recv, and half-closes so that unread input cannot reset the reply.
 *
 * Run:  build/c/upper/server 12000
 *       printf 'hello, world\n' | build/c/upper/client 127.0.0.1 12000
 */
#include "io.h"
#include "loop.h"
#include "net.h"
#include "num.h"
#include "upper.h"

#include <err.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

struct upper_state {
    struct upper_conn conn;
    struct io_buf out;
};

static int upper_send(struct loop_conn *c, struct upper_state *st)
{
    int rc = 0;

    if (st->out.len > 0) {
        rc = loop_send(c, st->out.data, st->out.len);
    }
    st->out.len = 0;
    return rc;
}

static int upper_open(struct loop_conn *c)
{
    struct upper_state *st = loop_conn_state(c);

    upper_conn_init(&st->conn);
    return 0;
}

static int upper_data(struct loop_conn *c, const unsigned char *data,
                      size_t len)
{
    struct upper_state *st = loop_conn_state(c);
    int r = upper_conn_feed(&st->conn, data, len, &st->out);

    if (r < 0 || upper_send(c, st) < 0) {
        return -1;
    }
    if (r == 1) {
        /* Anything after the request is drained by the lingering close. */
        loop_close_after_flush(c);
    }
    return 0;
}

/* EOF ends a request that has no "\n" (an empty one gets no reply). */
static int upper_eof(struct loop_conn *c)
{
    struct upper_state *st = loop_conn_state(c);

    if (upper_conn_eof(&st->conn, &st->out) < 0) {
        return -1;
    }
    return upper_send(c, st);
}

static void upper_close(struct loop_conn *c)
{
    struct upper_state *st = loop_conn_state(c);

    io_buf_free(&st->out);
}

int main(int argc, char *argv[])
{
    static const struct loop_proto upper = {
        .state_size = sizeof(struct upper_state),
        .on_open = upper_open,
        .on_data = upper_data,
        .on_eof = upper_eof,
        .on_close = upper_close,
    };
    char errbuf[256];
    int port;
    int fd;

    if (argc != 2 || (port = num_parse_port(argv[1])) < 0) {
        fprintf(stderr, "usage: server PORT   (PORT is 1..65535)\n");
        return 2;
    }
    fd = net_listen(port, SOCK_STREAM, errbuf, sizeof(errbuf));
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    fprintf(stderr, "upper server listening on port %d\n", port);
    if (loop_run(fd, &upper, NULL) < 0) {
        err(1, "server loop");
    }
    close(fd);
    return 0;
}
