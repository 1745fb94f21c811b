/*
 * login client: reads stdin lines in pairs (user, password); sends each
 * pair, reads ONE reply line and prints it. OK: half-close, wait for EOF,
 * exit 0. ERRO: send the next pair; when stdin runs out first, half-close,
 * wait for EOF and exit 1 ("credentials refused"). A partial pair is never
 * sent.
 *
 * Slide: seed 003, tasks 2-5 (ports 5667/5668); the slide has only task
 * descriptions and a Python 2.7 skeleton.
 *
 * Run:  printf 'alice\n\nalice\ns3cret\n' | build/c/login/client ::1 5668
 */
#include "io.h"
#include "linebuf.h"
#include "login.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Returns the next stdin line in *line (a "\n" added when the last line
 * lacks one) with its length, or 0 at EOF; exits 1 on a read error.
 */
static size_t next_line(char **line, size_t *cap)
{
    ssize_t got = getline(line, cap, stdin);
    size_t len;

    if (got < 0) {
        if (ferror(stdin)) {
            err(1, "reading stdin");
        }
        return 0;
    }
    len = (size_t)got;
    /* getline leaves room for its NUL: the "\n" can take it. */
    if ((*line)[len - 1] != '\n') {
        (*line)[len++] = '\n';
    }
    return len;
}

/* Reads until EOF after our half-close; exits 1 on an error. */
static void drain(int fd, const char *peer)
{
    unsigned char buf[512];
    ssize_t n;

    if (shutdown(fd, SHUT_WR) < 0) {
        err(1, "shutdown");
    }
    while ((n = io_read_some(fd, buf, sizeof(buf))) > 0) {
        continue;
    }
    if (n < 0) {
        err(1, "receiving from %s", peer);
    }
}

int main(int argc, char *argv[])
{
    unsigned char storage[LOGIN_LINE_MAX];
    unsigned char buf[LOGIN_LINE_MAX];
    struct linebuf lb;
    char peer[NET_ADDRSTRLEN + 16];
    char *user = NULL;
    char *pass = NULL;
    size_t user_cap = 0;
    size_t pass_cap = 0;
    int sent_any = 0;
    char errbuf[512];
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
    linebuf_init(&lb, storage, sizeof(storage));

    for (;;) {
        size_t user_len = next_line(&user, &user_cap);
        size_t pass_len = user_len > 0 ? next_line(&pass, &pass_cap) : 0;
        const unsigned char *reply;
        size_t reply_len;
        int r;

        if (pass_len == 0) {
            break;
        }
        if (io_write_all(fd, user, user_len) < 0 ||
            io_write_all(fd, pass, pass_len) < 0) {
            err(1, "sending to %s", peer);
        }
        sent_any = 1;
        while ((r = linebuf_next(&lb, &reply, &reply_len)) ==
               LINEBUF_NEED_MORE) {
            ssize_t n =
                io_read_some(fd, buf, sizeof(buf) - linebuf_pending(&lb));

            if (n < 0) {
                err(1, "receiving from %s", peer);
            }
            if (n == 0) {
                errx(1, "%s closed the connection before a full reply", peer);
            }
            linebuf_feed(&lb, buf, (size_t)n);
        }
        if (r == LINEBUF_OVERLONG) {
            errx(1, "reply from %s longer than %d bytes", peer, LOGIN_LINE_MAX);
        }
        if (io_write_all(STDOUT_FILENO, reply, reply_len) < 0) {
            err(1, "writing stdout");
        }
        if (reply_len == 3 && memcmp(reply, "OK\n", 3) == 0) {
            drain(fd, peer);
            free(user);
            free(pass);
            close(fd);
            return 0;
        }
        if (reply_len < 5 || memcmp(reply, "ERRO ", 5) != 0) {
            errx(1, "unexpected reply from %s", peer);
        }
    }
    free(user);
    free(pass);
    drain(fd, peer);
    close(fd);
    errx(1, "%s", sent_any ? "credentials refused" : "no credentials on stdin");
}
