/*
 * echo-repr client: sends each stdin line (with its "\n"; a last line
 * without one as it is), reads ONE reply, `Echo ==>` + a Python bytes
 * repr, and prints it with "\n"; then half-closes and waits for the
 * server's EOF.
 *
 * Slide: seed 002, "Cliente 2" (Python, port 5050: send, one recv(1024),
 * print). This one finds the end of a reply by parsing the repr, since
 * the reply has no terminator and may span several recv()s.
 *
 * Run:  printf 'Hello world!\nAgain!\n' | build/c/echo-repr/client ::1 5050
 */
#include "echorepr.h"
#include "io.h"
#include "net.h"
#include "num.h"
#include "pyrepr.h"

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PREFIX_LEN (sizeof(ECHOREPR_PREFIX) - 1)

/* The longest reply: the prefix and the repr of a 1024-byte message. */
#define REPLY_MAX (PREFIX_LEN + PYREPR_BOUND(ECHOREPR_MSG_MAX))

struct reply_buf {
    char data[REPLY_MAX];
    size_t len;
};

/*
 * Returns the length of the whole reply at the start of rb, reading from
 * fd as needed; exits 1 on a malformed reply, EOF before its end, or an
 * I/O error.
 */
static size_t read_reply(int fd, struct reply_buf *rb, const char *peer)
{
    for (;;) {
        size_t head = rb->len < PREFIX_LEN ? rb->len : PREFIX_LEN;
        ssize_t n;

        if (memcmp(rb->data, ECHOREPR_PREFIX, head) != 0) {
            errx(1, "malformed reply from %s: no \"%s\"", peer,
                 ECHOREPR_PREFIX);
        }
        if (rb->len > PREFIX_LEN) {
            n = pyrepr_scan(rb->data + PREFIX_LEN, rb->len - PREFIX_LEN);
            if (n < 0) {
                errx(1, "malformed reply from %s: no b' or b\" after \"%s\"",
                     peer, ECHOREPR_PREFIX);
            }
            if (n > 0) {
                return PREFIX_LEN + (size_t)n;
            }
        }
        if (rb->len == sizeof(rb->data)) {
            errx(1, "malformed reply from %s: longer than %zu bytes", peer,
                 sizeof(rb->data));
        }
        n = io_read_some(fd, rb->data + rb->len, sizeof(rb->data) - rb->len);
        if (n < 0) {
            err(1, "receiving from %s", peer);
        }
        if (n == 0) {
            errx(1, "malformed reply from %s: EOF before its closing quote",
                 peer);
        }
        rb->len += (size_t)n;
    }
}

int main(int argc, char *argv[])
{
    static struct reply_buf rb;
    char peer[NET_ADDRSTRLEN + 16];
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    char errbuf[512];
    int half_closed = 0;
    int port;
    int fd;

    if (argc != 3 || (port = num_parse_port(argv[2])) < 0) {
        fprintf(stderr, "usage: client HOST PORT   (PORT is 1..65535)\n");
        return 2;
    }
    snprintf(peer, sizeof(peer), "%s:%d", argv[1], port);
    signal(SIGPIPE, SIG_IGN);
    fd = net_connect(argv[1], port, SOCK_STREAM, errbuf, sizeof(errbuf));
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }

    while ((got = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)got;
        size_t n;

        /* The server would cut it into two messages, and two replies. */
        if (len > ECHOREPR_MSG_MAX) {
            errx(1, "line longer than %d bytes", ECHOREPR_MSG_MAX);
        }
        if (io_write_all(fd, line, len) < 0) {
            err(1, "sending to %s", peer);
        }
        /* Without "\n" only our EOF ends the message: say it before. */
        if (line[len - 1] != '\n') {
            if (shutdown(fd, SHUT_WR) < 0) {
                err(1, "shutdown");
            }
            half_closed = 1;
        }
        n = read_reply(fd, &rb, peer);
        if (io_write_all(STDOUT_FILENO, rb.data, n) < 0 ||
            io_write_all(STDOUT_FILENO, "\n", 1) < 0) {
            err(1, "writing stdout");
        }
        rb.len -= n;
        memmove(rb.data, rb.data + n, rb.len);
    }
    if (ferror(stdin)) {
        err(1, "reading stdin");
    }
    free(line);

    if (!half_closed && shutdown(fd, SHUT_WR) < 0) {
        err(1, "shutdown");
    }
    if (rb.len == 0) {
        ssize_t n = io_read_some(fd, rb.data, 1);

        if (n < 0) {
            err(1, "receiving from %s", peer);
        }
        rb.len = (size_t)n;
    }
    if (rb.len > 0) {
        errx(1, "unexpected bytes from %s after the last reply", peer);
    }
    close(fd);
    return 0;
}
