/*
 * calc server: answers `SOMA|SUB|MUL|DIV A B` lines with one result line
 * each, in order, many lines per connection and many clients at once,
 * until SIGINT/SIGTERM.
 *
 * Slide: seed 001, the closing exercise ("faça uma calculadora"), port
 * 12000. The slide has no code; protocols/calc/README.md pins the rest.
 *
 * Run:  build/c/calc/server 12000
 *       printf 'SOMA 2 2\nDIV 1 3\n' | build/c/calc/client 127.0.0.1 12000
 */
#include "calc.h"
#include "io.h"
#include "loop.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

struct calc_state {
    struct calc_conn conn;
    struct io_buf out; /* replies of one on_data call, reused */
};

static int calc_send(struct loop_conn *c, struct calc_state *st, int rc)
{
    if (rc == 0 && st->out.len > 0) {
        rc = loop_send(c, st->out.data, st->out.len);
    }
    st->out.len = 0;
    return rc;
}

static int calc_open(struct loop_conn *c)
{
    struct calc_state *st = loop_conn_state(c);

    calc_conn_init(&st->conn);
    return 0;
}

static int calc_data(struct loop_conn *c, const unsigned char *data, size_t len)
{
    struct calc_state *st = loop_conn_state(c);

    return calc_send(c, st, calc_conn_feed(&st->conn, data, len, &st->out));
}

/* A last line cut short by EOF is still a request; then the loop closes. */
static int calc_eof(struct loop_conn *c)
{
    struct calc_state *st = loop_conn_state(c);

    return calc_send(c, st, calc_conn_eof(&st->conn, &st->out));
}

static void calc_close(struct loop_conn *c)
{
    struct calc_state *st = loop_conn_state(c);

    io_buf_free(&st->out);
}

int main(int argc, char *argv[])
{
    static const struct loop_proto calc = {
        .state_size = sizeof(struct calc_state),
        .on_open = calc_open,
        .on_data = calc_data,
        .on_eof = calc_eof,
        .on_close = calc_close,
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
    fprintf(stderr, "calc server listening on port %d\n", port);
    if (loop_run(fd, &calc, NULL) < 0) {
        err(1, "server loop");
    }
    close(fd);
    return 0;
}
