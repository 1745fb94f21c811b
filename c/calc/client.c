/*
 * calc client: sends each stdin line (adding "\n" to a last line without
 * one), reads ONE reply line and prints it, in lock-step; then
 * half-closes and waits for the server's EOF. ERRO replies are printed
 * like any other: they are answers, not client errors.
 *
 * Slide: seed 001's exercise (port 12000); the slide has no client code.
 *
 * Run:  printf 'SOMA 2 2\nDIV 1 0\n' | build/c/calc/client 127.0.0.1 12000
 */
#include "calc.h"
#include "io.h"
#include "linebuf.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Returns 1 with the next reply line (its "\n" included) in *line and *len,
 * 0 at EOF before a whole line, 2 when CALC_LINE_MAX bytes hold no "\n",
 * or -1 with errno set.
 */
static int read_reply(int fd, struct linebuf *lb, const unsigned char **line,
                      size_t *len)
{
    unsigned char buf[CALC_LINE_MAX];

    for (;;) {
        int r = linebuf_next(lb, line, len);
        ssize_t n;

        if (r == LINEBUF_LINE) {
            return 1;
        }
        if (r == LINEBUF_OVERLONG) {
            return 2;
        }
        /* Read no more than the buffer can take: one line's worth. */
        n = io_read_some(fd, buf, CALC_LINE_MAX - linebuf_pending(lb));
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            return 0;
        }
        linebuf_feed(lb, buf, (size_t)n);
    }
}

int main(int argc, char *argv[])
{
    unsigned char storage[CALC_LINE_MAX];
    struct linebuf lb;
    const unsigned char *reply;
    size_t reply_len;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    char errbuf[512];
    unsigned char extra;
    int port;
    int fd;
    int r;

    if (argc != 3 || (port = num_parse_port(argv[2])) < 0) {
        fprintf(stderr, "usage: client HOST PORT   (PORT is 1..65535)\n");
        return 2;
    }
    /* A server that goes away must give EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    fd = net_connect(argv[1], port, SOCK_STREAM, errbuf, sizeof(errbuf));
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    linebuf_init(&lb, storage, sizeof(storage));

    while ((got = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)got;

        /* getline leaves room for its NUL: the "\n" can take it. */
        if (line[len - 1] != '\n') {
            line[len++] = '\n';
        }
        if (io_write_all(fd, line, len) < 0) {
            err(1, "sending to %s:%d", argv[1], port);
        }
        r = read_reply(fd, &lb, &reply, &reply_len);
        if (r < 0) {
            err(1, "receiving from %s:%d", argv[1], port);
        }
        if (r == 0) {
            errx(1, "%s:%d closed the connection before a full reply", argv[1],
                 port);
        }
        if (r == 2) {
            errx(1, "reply longer than %d bytes", CALC_LINE_MAX);
        }
        if (io_write_all(STDOUT_FILENO, reply, reply_len) < 0) {
            err(1, "writing stdout");
        }
    }
    if (ferror(stdin)) {
        err(1, "reading stdin");
    }
    free(line);

    if (shutdown(fd, SHUT_WR) < 0) {
        err(1, "shutdown");
    }
    /* Lock-step: nothing may follow the last reply but the EOF. */
    if (linebuf_pending(&lb) > 0) {
        errx(1, "unexpected bytes after the last reply");
    }
    r = (int)io_read_some(fd, &extra, 1);
    if (r < 0) {
        err(1, "receiving from %s:%d", argv[1], port);
    }
    if (r > 0) {
        errx(1, "unexpected bytes after the last reply");
    }
    close(fd);
    return 0;
}
