/*
 * upper client: sends the first stdin line (with its "\n"; without one,
 * all of stdin), half-closes, and writes every byte of the reply to stdout
 * unchanged until the server's EOF. The reply is not checked: an ERRO
 * reply is printed and the exit status is still 0.
 *
 * Slide: seed 001, the Python client on port 12000 (input(), which drops
 * the "\n"; one recv(1024)). This one sends the "\n" and reads to EOF.
 *
 * Run:  printf 'hello, world\n' | build/c/upper/client 127.0.0.1 12000
 */
#include "io.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK 4096

int main(int argc, char *argv[])
{
    unsigned char buf[CHUNK];
    char errbuf[512];
    int port;
    int fd;

    if (argc != 3 || (port = num_parse_port(argv[2])) < 0) {
        fprintf(stderr, "usage: client HOST PORT   (PORT is 1..65535)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    fd = net_connect(argv[1], port, SOCK_STREAM, errbuf, sizeof(errbuf));
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }

    /* Stream the first line out as it is read: it may be any length. */
    for (;;) {
        ssize_t n = io_read_some(STDIN_FILENO, buf, sizeof(buf));
        unsigned char *nl;
        size_t len;

        if (n < 0) {
            err(1, "reading stdin");
        }
        if (n == 0) {
            break;
        }
        nl = memchr(buf, '\n', (size_t)n);
        len = nl != NULL ? (size_t)(nl - buf) + 1 : (size_t)n;
        if (io_write_all(fd, buf, len) < 0) {
            err(1, "sending to %s:%d", argv[1], port);
        }
        if (nl != NULL) {
            break;
        }
    }
    if (shutdown(fd, SHUT_WR) < 0) {
        err(1, "shutdown");
    }

    for (;;) {
        ssize_t n = io_read_some(fd, buf, sizeof(buf));

        if (n < 0) {
            err(1, "receiving from %s:%d", argv[1], port);
        }
        if (n == 0) {
            break;
        }
        if (io_write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
            err(1, "writing stdout");
        }
    }
    close(fd);
    return 0;
}
