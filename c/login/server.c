/*
 * login server: reads a user line and a password line; refuses an empty
 * or invalid pair and waits for a new one; otherwise appends
 * `user:password` to log-acesso.txt in its working directory, replies OK
 * and closes (lingering). Many clients at once, until SIGINT/SIGTERM;
 * prints on stdout who logged in.
 *
 * Slide: seed 003, tasks on ports 5666-5668 (report the client, receive
 * user and password, serve many clients, log every pair, ask again on an
 * empty one).
 *
 * Run:  build/c/login/server 5668
 *       printf 'alice\ns3cret\n' | build/c/login/client 127.0.0.1 5668
 */
#include "io.h"
#include "login.h"
#include "loop.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct login_log {
    int fd; /* -1 until the first accepted pair */
};

/*
 * One write() per line on an O_APPEND descriptor: each line lands whole
 * at the end of the file, so lines never interleave, and a line is in the
 * file before its OK is queued, so SIGTERM after an OK loses nothing.
 */
static int login_append(struct login_log *log, const char *line, size_t len)
{
    ssize_t n;

    /* Opened on first use: a server that accepted no pair leaves no file. */
    if (log->fd < 0) {
        log->fd = open(LOGIN_LOG_FILE,
                       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (log->fd < 0) {
            warn("%s", LOGIN_LOG_FILE);
            return -1;
        }
    }
    do {
        n = write(log->fd, line, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != len) {
        warn("writing %s", LOGIN_LOG_FILE);
        return -1;
    }
    return 0;
}

static int login_on_open(struct loop_conn *c)
{
    login_conn_init(loop_conn_state(c));
    return 0;
}

/* Logs (for OK) and queues the reply; 1 when the connection is done. */
static int login_verdict(struct loop_conn *c, enum login_status st,
                         const struct login_result *res)
{
    if (st == LOGIN_OK) {
        const char *colon = memchr(res->log, ':', res->log_len);

        /* Without the log line there is no OK: drop the client. */
        if (login_append(loop_conn_ctx(c), res->log, res->log_len) < 0) {
            return -1;
        }
        printf("login %.*s from %s\n", (int)(colon - res->log), res->log,
               loop_conn_peer(c));
        fflush(stdout);
    }
    if (loop_send(c, res->reply, res->reply_len) < 0) {
        return -1;
    }
    if (st == LOGIN_OK) {
        loop_close_after_flush(c);
        return 1;
    }
    return 0;
}

static int login_on_data(struct loop_conn *c, const unsigned char *data,
                         size_t len)
{
    struct login_conn *conn = loop_conn_state(c);
    struct login_result res;
    enum login_status st;

    while (len > 0) {
        size_t used = login_conn_feed(conn, data, len);

        data += used;
        len -= used;
        while ((st = login_conn_next(conn, &res)) != LOGIN_MORE) {
            int r = login_verdict(c, st, &res);

            if (r != 0) {
                /* After OK the rest is drained by the lingering close. */
                return r < 0 ? -1 : 0;
            }
        }
    }
    return 0;
}

int main(int argc, char *argv[])
{
    static const struct loop_proto login = {
        .state_size = sizeof(struct login_conn),
        .on_open = login_on_open,
        .on_data = login_on_data,
        /* No on_eof: a pair cut short by EOF gets no reply, no log line. */
    };
    struct login_log log = {.fd = -1};
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
    fprintf(stderr, "login server listening on port %d\n", port);
    if (loop_run(fd, &login, &log) < 0) {
        err(1, "server loop");
    }
    close(fd);
    if (log.fd >= 0 && close(log.fd) < 0) {
        err(1, "%s", LOGIN_LOG_FILE);
    }
    return 0;
}
