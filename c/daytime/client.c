/*
 * daytime client: sends nothing (stdin is ignored), half-closes, reads
 * until the server's EOF and prints the bytes plus "\n". A server that
 * sends nothing is an error.
 *
 * Slide: seed 002, the Python time client on port 8888 (one recv(1024)).
 * The half-close lets the server's lingering close end at once.
 *
 * Run:  build/c/daytime/client 127.0.0.1 8888 </dev/null
 */
#include "io.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* Far more than the 24 bytes of a ctime: a bound, not an expectation. */
#define DAYTIME_MAX 4096

int main(int argc, char *argv[])
{
    struct io_buf in = {0};
    char errbuf[512];
    int port;
    int fd;

    if (argc != 3 || (port = num_parse_port(argv[2])) < 0) {
        fprintf(stderr, "usage: client HOST PORT   (PORT is 1..65535)\n");
        return 2;
    }
    fd = net_connect(argv[1], port, SOCK_STREAM, errbuf, sizeof(errbuf));
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    if (shutdown(fd, SHUT_WR) < 0) {
        err(1, "shutdown");
    }
    if (io_read_eof(fd, &in, DAYTIME_MAX) < 0) {
        if (errno == EMSGSIZE) {
            errx(1, "%s:%d sent more than %d bytes", argv[1], port,
                 DAYTIME_MAX);
        }
        err(1, "receiving from %s:%d", argv[1], port);
    }
    if (in.len == 0) {
        errx(1, "%s:%d closed the connection without sending the time", argv[1],
             port);
    }
    if (io_write_all(STDOUT_FILENO, in.data, in.len) < 0 ||
        io_write_all(STDOUT_FILENO, "\n", 1) < 0) {
        err(1, "writing stdout");
    }
    io_buf_free(&in);
    close(fd);
    return 0;
}
