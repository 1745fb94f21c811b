/*
 * timeofday client: sends nothing (stdin is ignored), half-closes, reads
 * the first line (to "\n", or to EOF if none), drops a "\r" before the
 * "\n" as Java's readLine() does, prints it with exactly one "\n", and
 * discards the rest until EOF. A server that sends nothing is an error.
 *
 * Slide: seed 002, the Java client on port 5155 (readLine with the default
 * charset, println). This one prints the bytes as they came, so the
 * locale cannot change them.
 *
 * Run:  build/c/timeofday/client 127.0.0.1 5155 </dev/null
 */
#include "io.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Longest first line kept; the line is about 38 bytes. */
#define TIMEOFDAY_LINE_MAX 4096

int main(int argc, char *argv[])
{
    static unsigned char line[TIMEOFDAY_LINE_MAX + 1]; /* + the "\n" */
    unsigned char buf[4096];
    size_t len = 0;
    int have_line = 0;
    int got_any = 0;
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

    /* Read to EOF either way, so the server's close meets no reset. */
    for (;;) {
        ssize_t n = io_read_some(fd, buf, sizeof(buf));
        unsigned char *nl;
        size_t take;

        if (n < 0) {
            err(1, "receiving from %s:%d", argv[1], port);
        }
        if (n == 0) {
            break;
        }
        got_any = 1;
        if (have_line) {
            continue;
        }
        nl = memchr(buf, '\n', (size_t)n);
        take = nl != NULL ? (size_t)(nl - buf) : (size_t)n;
        if (take > TIMEOFDAY_LINE_MAX - len) {
            errx(1, "first line from %s:%d longer than %d bytes", argv[1], port,
                 TIMEOFDAY_LINE_MAX);
        }
        memcpy(line + len, buf, take);
        len += take;
        have_line = nl != NULL;
    }
    if (!got_any) {
        errx(1, "%s:%d closed the connection without sending the time", argv[1],
             port);
    }
    if (have_line && len > 0 && line[len - 1] == '\r') {
        len--;
    }
    line[len] = '\n';
    if (io_write_all(STDOUT_FILENO, line, len + 1) < 0) {
        err(1, "writing stdout");
    }
    close(fd);
    return 0;
}
