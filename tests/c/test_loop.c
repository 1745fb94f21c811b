/*
 * Unit tests for c/common/loop: each test forks a child that runs
 * loop_run() with a tiny protocol on a kernel-chosen loopback port, talks
 * to it as clients do, then stops it with a signal and checks that
 * loop_run() returned 0. Everything is judged by behaviour: no sleeps, no
 * timing thresholds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <unistd.h>

#include "io.h"
#include "linebuf.h"
#include "loop.h"
#include "net.h"

/* ---- the protocols under test ---- */

static int echo_data(struct loop_conn *c, const unsigned char *d, size_t n)
{
    return loop_send(c, d, n);
}

static const struct loop_proto echo_proto = {.on_data = echo_data};

/* Greets and closes at once, whatever the client does (like daytime). */
static int greet_open(struct loop_conn *c)
{
    if (loop_send(c, "hi\n", 3) < 0) {
        return -1;
    }
    loop_close_after_flush(c);
    return 0;
}

/* Set before the fork: the child reports each closed connection here. */
static int close_note_fd = -1;

static void note_close(struct loop_conn *c)
{
    (void)c;
    if (close_note_fd >= 0 && write(close_note_fd, "c", 1) != 1) {
        _exit(3);
    }
}

static const struct loop_proto greet_proto = {.on_open = greet_open,
                                              .on_close = note_close};

/*
 * Lines of at most 8 bytes come back upper-cased; longer ones get "ERR"
 * and are skipped; "quit" gets "bye" and a close; at EOF the unterminated
 * remainder comes back as "REST:...".
 */
struct upper_state {
    struct linebuf lb;
    unsigned char storage[8];
    int closing; /* "quit" seen: the rest of this chunk is not for us */
};

static int upper_open(struct loop_conn *c)
{
    struct upper_state *st = loop_conn_state(c);

    linebuf_init(&st->lb, st->storage, sizeof st->storage);
    return 0;
}

static int upper_line(struct loop_conn *c, const unsigned char *p, size_t n)
{
    struct upper_state *st = loop_conn_state(c);
    unsigned char out[16];

    n = linebuf_strip_eol(p, n);
    if (n == 4 && memcmp(p, "quit", 4) == 0) {
        st->closing = 1;
        loop_close_after_flush(c);
        return loop_send(c, "bye\n", 4);
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (unsigned char)toupper(p[i]);
    }
    out[n] = '\n';
    return loop_send(c, out, n + 1);
}

static int upper_data(struct loop_conn *c, const unsigned char *d, size_t n)
{
    struct upper_state *st = loop_conn_state(c);

    while (n > 0 && !st->closing) {
        const unsigned char *line;
        size_t len;
        int r;
        size_t used = linebuf_feed(&st->lb, d, n);
        d += used;
        n -= used;
        while (!st->closing &&
               (r = linebuf_next(&st->lb, &line, &len)) != LINEBUF_NEED_MORE) {
            if (r == LINEBUF_OVERLONG) {
                linebuf_skip_line(&st->lb);
                if (loop_send(c, "ERR\n", 4) < 0) {
                    return -1;
                }
            } else if (upper_line(c, line, len) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int upper_eof(struct loop_conn *c)
{
    struct upper_state *st = loop_conn_state(c);
    const unsigned char *rest;
    size_t n;

    if (linebuf_take_rest(&st->lb, &rest, &n)) {
        if (loop_send(c, "REST:", 5) < 0 || loop_send(c, rest, n) < 0 ||
            loop_send(c, "\n", 1) < 0) {
            return -1;
        }
    }
    return 0;
}

static const struct loop_proto upper_proto = {
    .state_size = sizeof(struct upper_state),
    .on_open = upper_open,
    .on_data = upper_data,
    .on_eof = upper_eof,
};

/* ---- server process and client helpers ---- */

struct server {
    pid_t pid;
    int port;
};

/* The running server child, so a failed test's teardown can end it. */
static pid_t server_pid = -1;

static int kill_leftover_server(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
    return 0;
}

static struct server start_server(const struct loop_proto *proto)
{
    char err[256] = "";
    struct server s;
    int fd = net_listen(0, SOCK_STREAM, err, sizeof err);

    if (fd < 0) {
        fail_msg("net_listen: %s", err);
    }
    s.port = net_local_port(fd);
    s.pid = fork();
    assert_true(s.pid >= 0);
    if (s.pid == 0) {
        int rc;
#ifdef __linux__
        /* If the test process dies (a CTest timeout), go with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) {
            _exit(1);
        }
#endif
        rc = loop_run(fd, proto, NULL);
        close(fd);
        _exit(rc == 0 ? 0 : 1);
    }
    server_pid = s.pid;
    close(fd);
    return s;
}

/* Stops the server with sig; loop_run() must have returned 0. */
static void stop_server(struct server s, int sig)
{
    int status = 0;

    assert_int_equal(kill(s.pid, sig), 0);
    assert_int_equal(waitpid(s.pid, &status, 0), s.pid);
    server_pid = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int dial(const struct server *s)
{
    char err[256] = "";
    int fd = net_connect("127.0.0.1", s->port, SOCK_STREAM, err, sizeof err);

    if (fd < 0) {
        fail_msg("net_connect: %s", err);
    }
    return fd;
}

/* Sends req, half-closes, and returns everything up to the server's EOF. */
static void request(const struct server *s, const char *req, size_t len,
                    struct io_buf *reply)
{
    int fd = dial(s);

    assert_int_equal(io_write_all(fd, req, len), 0);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    assert_int_equal(io_read_eof(fd, reply, 1 << 24), 0);
    close(fd);
}

static void assert_reply(struct io_buf *b, const char *expect)
{
    size_t n = strlen(expect);

    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, expect, n);
    io_buf_free(b);
}

struct writer {
    int fd;
    const unsigned char *data;
    size_t len;
    int rc;
};

static void *write_then_half_close(void *arg)
{
    struct writer *w = arg;

    w->rc = io_write_all(w->fd, w->data, w->len);
    if (w->rc == 0) {
        w->rc = shutdown(w->fd, SHUT_WR);
    }
    return NULL;
}

/* ---- tests ---- */

static void test_loop_echo_round_trips(void **state)
{
    struct server s = start_server(&echo_proto);
    struct io_buf b = {0};

    (void)state;
    request(&s, "Hello, world", 12, &b);
    assert_reply(&b, "Hello, world");
    request(&s, "\x00\xff\r\nok", 6, &b);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "\x00\xff\r\nok", 6);
    io_buf_free(&b);
    request(&s, "", 0, &b);
    assert_reply(&b, "");
    stop_server(s, SIGTERM);
}

/* Far more than the socket buffers and LOOP_HIGH_WATER hold. */
static void test_loop_echo_large_transfer(void **state)
{
    enum { LEN = 8 * 1024 * 1024 };
    struct server s = start_server(&echo_proto);
    unsigned char *data = malloc(LEN);
    struct io_buf b = {0};
    struct writer w;
    pthread_t t;

    (void)state;
    assert_non_null(data);
    for (size_t i = 0; i < LEN; i++) {
        data[i] = (unsigned char)(i ^ (i >> 9));
    }
    w = (struct writer){.fd = dial(&s), .data = data, .len = LEN};
    assert_int_equal(pthread_create(&t, NULL, write_then_half_close, &w), 0);
    assert_int_equal(io_read_eof(w.fd, &b, 2 * LEN), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(b.len, LEN);
    assert_memory_equal(b.data, data, LEN);
    io_buf_free(&b);
    close(w.fd);
    free(data);
    stop_server(s, SIGINT);
}

/* A client in the middle of its request does not hold up another one. */
static void test_loop_clients_are_served_interleaved(void **state)
{
    struct server s = start_server(&echo_proto);
    struct io_buf b = {0};
    unsigned char buf[8];
    int slow = dial(&s);

    (void)state;
    assert_int_equal(io_write_all(slow, "first ", 6), 0);
    assert_int_equal(io_read_all(slow, buf, 6), 6);
    request(&s, "second", 6, &b);
    assert_reply(&b, "second");
    assert_int_equal(io_write_all(slow, "done", 4), 0);
    shutdown(slow, SHUT_WR);
    assert_int_equal(io_read_eof(slow, &b, 64), 0);
    assert_reply(&b, "done");
    close(slow);
    stop_server(s, SIGTERM);
}

static void test_loop_lines_errors_and_rest_at_eof(void **state)
{
    static const char req[] = "ab\ncd\r\nmuch too long\nef\ntail";
    struct server s = start_server(&upper_proto);
    struct io_buf b = {0};

    (void)state;
    request(&s, req, sizeof req - 1, &b);
    assert_reply(&b, "AB\nCD\nERR\nEF\nREST:tail\n");
    stop_server(s, SIGTERM);
}

/*
 * The server asks to close while the client is still sending: the
 * lingering close must deliver the reply and a clean EOF, where a plain
 * close() with unread input would reset the connection.
 */
static void test_loop_close_after_flush_lingers(void **state)
{
    enum { LEN = 256 * 1024 };
    struct server s = start_server(&upper_proto);
    unsigned char *junk = malloc(LEN);
    struct io_buf b = {0};
    int fd = dial(&s);

    (void)state;
    assert_non_null(junk);
    memset(junk, 'z', LEN);
    assert_int_equal(io_write_all(fd, "x\nquit\n", 7), 0);
    assert_int_equal(io_write_all(fd, junk, LEN), 0);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    assert_int_equal(io_read_eof(fd, &b, 64), 0);
    assert_reply(&b, "X\nbye\n");
    close(fd);
    free(junk);
    stop_server(s, SIGTERM);
}

/*
 * A client that never half-closes gets its reply and the server's EOF at
 * once; the server closes its side when the linger time is up, without
 * the client doing anything more (the child reports the close on a pipe).
 */
static void test_loop_linger_gives_up_without_client_eof(void **state)
{
    struct server s;
    struct io_buf b = {0};
    int notes[2];
    char c;
    int fd;

    (void)state;
    assert_int_equal(pipe(notes), 0);
    close_note_fd = notes[1];
    s = start_server(&greet_proto);
    close_note_fd = -1;
    close(notes[1]);
    fd = dial(&s);
    assert_int_equal(io_read_eof(fd, &b, 64), 0);
    assert_reply(&b, "hi\n");
    /* Still connected, never sending: only the deadline can close it. */
    assert_int_equal(io_read_all(notes[0], &c, 1), 1);
    assert_int_equal(c, 'c');
    close(fd);
    close(notes[0]);
    stop_server(s, SIGTERM);
}

static void test_loop_reset_clients_cost_nothing(void **state)
{
    struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
    struct server s = start_server(&echo_proto);
    struct io_buf b = {0};

    (void)state;
    for (int i = 0; i < 20; i++) {
        int fd = dial(&s);
        assert_int_equal(io_write_all(fd, "abc", 3), 0);
        /* SO_LINGER 0: close() sends a reset instead of a FIN. */
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close,
                                    sizeof abort_close),
                         0);
        close(fd);
    }
    request(&s, "still here", 10, &b);
    assert_reply(&b, "still here");
    stop_server(s, SIGTERM);
}

/*
 * With 1000 clients connected and idle, a new client is still answered.
 * Each idle client first gets one byte echoed, which proves the loop has
 * accepted it and is polling it.
 */
static void test_loop_answers_with_1000_idle_clients(void **state)
{
    enum { IDLE = 1000 };
    struct server s;
    struct io_buf b = {0};
    static int fds[IDLE];
    long limit = loop_raise_nofile();

    (void)state;
    if (limit >= 0 && limit < IDLE + 64) {
        skip(); /* the hard RLIMIT_NOFILE is too low on this host */
    }
    s = start_server(&echo_proto);
    for (int i = 0; i < IDLE; i++) {
        unsigned char c;
        fds[i] = dial(&s);
        assert_int_equal(io_write_all(fds[i], "i", 1), 0);
        assert_int_equal(io_read_all(fds[i], &c, 1), 1);
        assert_int_equal(c, 'i');
    }
    request(&s, "new client", 10, &b);
    assert_reply(&b, "new client");
    /* Idle clients are still alive and served too. */
    assert_int_equal(io_write_all(fds[IDLE / 2], "!", 1), 0);
    assert_int_equal(shutdown(fds[IDLE / 2], SHUT_WR), 0);
    assert_int_equal(io_read_eof(fds[IDLE / 2], &b, 8), 0);
    assert_reply(&b, "!");
    for (int i = 0; i < IDLE; i++) {
        close(fds[i]);
    }
    stop_server(s, SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_loop_echo_round_trips,
                                  kill_leftover_server),
        cmocka_unit_test_teardown(test_loop_echo_large_transfer,
                                  kill_leftover_server),
        cmocka_unit_test_teardown(test_loop_clients_are_served_interleaved,
                                  kill_leftover_server),
        cmocka_unit_test_teardown(test_loop_lines_errors_and_rest_at_eof,
                                  kill_leftover_server),
        cmocka_unit_test_teardown(test_loop_close_after_flush_lingers,
                                  kill_leftover_server),
        cmocka_unit_test_teardown(test_loop_linger_gives_up_without_client_eof,
                                  kill_leftover_server),
        cmocka_unit_test_teardown(test_loop_reset_clients_cost_nothing,
                                  kill_leftover_server),
        cmocka_unit_test_teardown(test_loop_answers_with_1000_idle_clients,
                                  kill_leftover_server),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
