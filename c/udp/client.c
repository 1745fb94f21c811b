/*
 * udp sender: reads all of stdin (at most 65507 bytes, the largest UDP
 * payload) and sends it as ONE datagram, empty included. Prints nothing on
 * stdout; nobody confirms delivery, so a missing receiver is no error.
 *
 * Slide: seed 004, "Cliente UDP" (127.0.0.1:5005, b"Hello, World!"; its
 * `UDP target IP:` lines are not printed).
 *
 * Run:  printf 'Hello, World!' | build/c/udp/client 127.0.0.1 5005
 */
#include "io.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_PAYLOAD_MAX 65507

int main(int argc, char *argv[])
{
    struct io_buf in = {0};
    char errbuf[512];
    ssize_t n;
    int port;
    int fd;

    if (argc != 3 || (port = num_parse_port(argv[2])) < 0) {
        fprintf(stderr, "usage: client HOST PORT   (PORT is 1..65535)\n");
        return 2;
    }
    if (io_read_eof(STDIN_FILENO, &in, UDP_PAYLOAD_MAX) < 0) {
        if (errno == EMSGSIZE) {
            errx(1, "message too long for one datagram");
        }
        err(1, "reading stdin");
    }
    fd = net_connect(argv[1], port, SOCK_DGRAM, errbuf, sizeof(errbuf));
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    /* in.data is NULL for empty stdin; a zero-length send needs no data. */
    do {
        n = send(fd, in.len > 0 ? (const void *)in.data : "", in.len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        err(1, "sending to %s:%d", argv[1], port);
    }
    io_buf_free(&in);
    close(fd);
    return 0;
}
