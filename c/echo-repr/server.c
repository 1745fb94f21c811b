/*
 * echo-repr server: answers every message (a line, a 1024-byte piece of a
 * longer one, or the remainder at EOF) with `Echo ==>` + Python's repr of
 * its bytes, no terminator. Many messages per connection, many clients at
 * once, until SIGINT/SIGTERM.
 *
 * Slide: seed 002, "Servidor 2" (Python, port 5050), which answers each
 * recv(1024) with f'Echo ==>{data}'. This one frames by line instead, so
 * the reply does not depend on how TCP cut the stream.
 *
 * Run:  build/c/echo-repr/server 5050
 *       printf 'Hello world!\nAgain!\n' | build/c/echo-repr/client ::1 5050
 */
#include "echorepr.h"
#include "io.h"
#include "loop.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

struct echorepr_state {
    struct echorepr_conn conn;
    struct io_buf out; /* replies of one on_data call, reused */
};

static int echorepr_send(struct loop_conn *c, struct echorepr_state *st, int rc)
{
    if (rc == 0 && st->out.len > 0) {
        rc = loop_send(c, st->out.data, st->out.len);
    }
    st->out.len = 0;
    return rc;
}

static int echorepr_open(struct loop_conn *c)
{
    struct echorepr_state *st = loop_conn_state(c);

    echorepr_conn_init(&st->conn);
    return 0;
}

static int echorepr_data(struct loop_conn *c, const unsigned char *data,
                         size_t len)
{
    struct echorepr_state *st = loop_conn_state(c);

    return echorepr_send(c, st,
                         echorepr_conn_feed(&st->conn, data, len, &st->out));
}

/* The remainder before EOF is a message too; then the loop closes. */
static int echorepr_eof(struct loop_conn *c)
{
    struct echorepr_state *st = loop_conn_state(c);

    return echorepr_send(c, st, echorepr_conn_eof(&st->conn, &st->out));
}

static void echorepr_close(struct loop_conn *c)
{
    struct echorepr_state *st = loop_conn_state(c);

    io_buf_free(&st->out);
}

int main(int argc, char *argv[])
{
    static const struct loop_proto echorepr = {
        .state_size = sizeof(struct echorepr_state),
        .on_open = echorepr_open,
        .on_data = echorepr_data,
        .on_eof = echorepr_eof,
        .on_close = echorepr_close,
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
    fprintf(stderr, "echo-repr server listening on port %d\n", port);
    if (loop_run(fd, &echorepr, NULL) < 0) {
        err(1, "server loop");
    }
    close(fd);
    return 0;
}
