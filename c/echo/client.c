/*
 * echo client: sends all of stdin to the echo server, half-closes, and
 * writes every byte that comes back to stdout, unchanged, until the
 * server's EOF.
 *
 * Slides: seed 000 and seed 004 clients send b'Hello, world' and do ONE
 * recv(1024), trusting it to be the whole reply. This one never assumes
 * one recv is one message, and it sends and receives at the same time:
 * a client that wrote everything before reading would deadlock against
 * any echo server once both sockets' buffers filled.
 *
 * Run:  printf 'Hello, world' | build/c/echo/client 127.0.0.1 65432
 */
#include "io.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK 16384

int main(int argc, char *argv[])
{
    static unsigned char inbuf[CHUNK];
    static unsigned char sockbuf[CHUNK];
    size_t in_len = 0; /* stdin bytes read but not yet sent */
    size_t in_off = 0;
    int stdin_eof = 0;
    int sent_fin = 0;
    char errbuf[512];
    int port;
    int fd;

    if (argc != 3 || (port = num_parse_port(argv[2])) < 0) {
        fprintf(stderr, "usage: client HOST PORT   (PORT is 1..65535)\n");
        return 2;
    }
    /* A server that closes early must give EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    fd = net_connect(argv[1], port, SOCK_STREAM, errbuf, sizeof errbuf);
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    if (net_set_nonblock(fd) < 0) {
        err(1, "socket");
    }

    for (;;) {
        struct pollfd pfd[2] = {
            {.fd = -1, .events = POLLIN},
            {.fd = fd, .events = POLLIN},
        };
        ssize_t n;

        /* Read stdin only when the previous chunk has gone out. */
        if (!stdin_eof && in_off == in_len) {
            pfd[0].fd = STDIN_FILENO;
        }
        if (in_off < in_len) {
            pfd[1].events |= POLLOUT;
        }
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            err(1, "poll");
        }
        if (pfd[0].revents != 0) {
            n = io_read_some(STDIN_FILENO, inbuf, sizeof inbuf);
            if (n < 0) {
                err(1, "reading stdin");
            }
            in_off = 0;
            in_len = (size_t)n;
            stdin_eof = n == 0;
        }
        if (in_off < in_len && (pfd[1].revents & (POLLOUT | POLLERR))) {
            n = send(fd, inbuf + in_off, in_len - in_off, 0);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                errno != EINTR) {
                err(1, "sending to %s:%d", argv[1], port);
            }
            if (n > 0) {
                in_off += (size_t)n;
            }
        }
        /* Everything sent: tell the server with a half-close. */
        if (stdin_eof && in_off == in_len && !sent_fin) {
            if (shutdown(fd, SHUT_WR) < 0) {
                err(1, "shutdown");
            }
            sent_fin = 1;
        }
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            n = io_read_some(fd, sockbuf, sizeof sockbuf);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                err(1, "receiving from %s:%d", argv[1], port);
            }
            if (n == 0) {
                break;
            }
            if (n > 0 && io_write_all(STDOUT_FILENO, sockbuf, (size_t)n) < 0) {
                err(1, "writing stdout");
            }
        }
    }
    if (!sent_fin) {
        errx(1, "%s:%d closed the connection before all input was sent",
             argv[1], port);
    }
    close(fd);
    return 0;
}
