/*
 * echo server: returns every byte a client sends, unchanged, until the
 * client's EOF, then closes. Serves many clients at once through the
 * shared poll loop.
 *
 * Slides: seed 000 (servidor.py, 127.0.0.1:65432) and seed 004 (port
 * 50007). Those serve a single client and exit; this reference serves
 * every client until SIGINT/SIGTERM and binds all interfaces (IPv4+IPv6).
 *
 * Run:  build/c/echo/server 65432
 *       printf 'Hello, world' | build/c/echo/client 127.0.0.1 65432
 */
#include "loop.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int echo_data(struct loop_conn *c, const unsigned char *data, size_t len)
{
    return loop_send(c, data, len);
}

int main(int argc, char *argv[])
{
    /* No on_eof: after the client's EOF the loop flushes and closes. */
    static const struct loop_proto echo = {.on_data = echo_data};
    char errbuf[256];
    int port;
    int fd;

    if (argc != 2 || (port = num_parse_port(argv[1])) < 0) {
        fprintf(stderr, "usage: server PORT   (PORT is 1..65535)\n");
        return 2;
    }
    fd = net_listen(port, SOCK_STREAM, errbuf, sizeof errbuf);
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    fprintf(stderr, "echo server listening on port %d\n", port);
    if (loop_run(fd, &echo, NULL) < 0) {
        err(1, "server loop");
    }
    close(fd);
    return 0;
}
