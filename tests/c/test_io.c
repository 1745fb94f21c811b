/* Unit tests for c/common/io, over socketpair(): no ports involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "net.h"

#define BIG (1024 * 1024 + 123)

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static unsigned char *pattern(size_t len)
{
    unsigned char *p = malloc(len);

    assert_non_null(p);
    for (size_t i = 0; i < len; i++) {
        p[i] = (unsigned char)(i * 7 + i / 251);
    }
    return p;
}

struct reader {
    int fd;
    struct io_buf got;
    int rc;
};

static void *read_to_eof(void *arg)
{
    struct reader *r = arg;

    r->rc = io_read_eof(r->fd, &r->got, 4 * BIG);
    return NULL;
}

/*
 * A tiny send buffer on a non-blocking socket makes nearly every write()
 * partial or EAGAIN; io_write_all must still deliver every byte in order.
 */
static void test_io_write_all_survives_partial_writes(void **state)
{
    int sv[2];
    int small = 2048;
    unsigned char *data = pattern(BIG);
    struct reader r = {.got = {0}};
    pthread_t t;

    (void)state;
    pair(sv);
    assert_int_equal(
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    assert_int_equal(net_set_nonblock(sv[0]), 0);
    assert_int_equal(net_set_nonblock(sv[1]), 0);
    r.fd = sv[1];
    assert_int_equal(pthread_create(&t, NULL, read_to_eof, &r), 0);
    assert_int_equal(io_write_all(sv[0], data, BIG), 0);
    assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.got.len, BIG);
    assert_memory_equal(r.got.data, data, BIG);
    io_buf_free(&r.got);
    free(data);
    close(sv[0]);
    close(sv[1]);
}

static void test_io_write_all_to_closed_peer_is_epipe(void **state)
{
    int sv[2];

    (void)state;
    pair(sv);
    close(sv[1]);
    errno = 0;
    assert_int_equal(io_write_all(sv[0], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    close(sv[0]);
}

static void test_io_read_all_stops_at_cap_then_eof(void **state)
{
    int sv[2];
    unsigned char buf[100];

    (void)state;
    pair(sv);
    assert_int_equal(io_write_all(sv[0], "0123456789", 10), 0);
    shutdown(sv[0], SHUT_WR);
    assert_int_equal(io_read_all(sv[1], buf, 4), 4);
    assert_memory_equal(buf, "0123", 4);
    assert_int_equal(io_read_all(sv[1], buf, sizeof buf), 6);
    assert_memory_equal(buf, "456789", 6);
    assert_int_equal(io_read_all(sv[1], buf, sizeof buf), 0);
    close(sv[0]);
    close(sv[1]);
}

static void test_io_read_all_joins_many_writes(void **state)
{
    int sv[2];
    unsigned char buf[16];

    (void)state;
    pair(sv);
    assert_int_equal(net_set_nonblock(sv[1]), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(io_write_all(sv[0], "ab", 2), 0);
    }
    shutdown(sv[0], SHUT_WR);
    /* Non-blocking reader: EAGAIN waits instead of failing. */
    assert_int_equal(io_read_all(sv[1], buf, sizeof buf), 10);
    assert_memory_equal(buf, "ababababab", 10);
    close(sv[0]);
    close(sv[1]);
}

static void test_io_read_eof_respects_max(void **state)
{
    int sv[2];
    struct io_buf b = {0};
    unsigned char *data = pattern(100);

    (void)state;
    pair(sv);
    assert_int_equal(io_write_all(sv[0], data, 100), 0);
    shutdown(sv[0], SHUT_WR);
    assert_int_equal(io_read_eof(sv[1], &b, 100), 0);
    assert_int_equal(b.len, 100);
    assert_memory_equal(b.data, data, 100);
    io_buf_free(&b);
    close(sv[0]);
    close(sv[1]);

    pair(sv);
    assert_int_equal(io_write_all(sv[0], data, 100), 0);
    shutdown(sv[0], SHUT_WR);
    errno = 0;
    assert_int_equal(io_read_eof(sv[1], &b, 99), -1);
    assert_int_equal(errno, EMSGSIZE);
    io_buf_free(&b);
    close(sv[0]);
    close(sv[1]);
    free(data);
}

static void test_io_read_some_returns_eagain_and_eof(void **state)
{
    int sv[2];
    unsigned char buf[8];

    (void)state;
    pair(sv);
    assert_int_equal(net_set_nonblock(sv[1]), 0);
    errno = 0;
    assert_int_equal(io_read_some(sv[1], buf, sizeof buf), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_int_equal(io_write_all(sv[0], "hey", 3), 0);
    assert_int_equal(io_read_some(sv[1], buf, sizeof buf), 3);
    close(sv[0]);
    assert_int_equal(io_read_some(sv[1], buf, sizeof buf), 0);
    close(sv[1]);
}

static void test_io_buf_append_grows(void **state)
{
    struct io_buf b = {0};
    unsigned char *data = pattern(10000);

    (void)state;
    assert_int_equal(io_buf_append(&b, NULL, 0), 0);
    for (size_t off = 0; off < 10000; off += 1000) {
        assert_int_equal(io_buf_append(&b, data + off, 1000), 0);
    }
    assert_int_equal(b.len, 10000);
    assert_true(b.cap >= b.len);
    assert_memory_equal(b.data, data, 10000);
    io_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_io_write_all_survives_partial_writes),
        cmocka_unit_test(test_io_write_all_to_closed_peer_is_epipe),
        cmocka_unit_test(test_io_read_all_stops_at_cap_then_eof),
        cmocka_unit_test(test_io_read_all_joins_many_writes),
        cmocka_unit_test(test_io_read_eof_respects_max),
        cmocka_unit_test(test_io_read_some_returns_eagain_and_eof),
        cmocka_unit_test(test_io_buf_append_grows),
    };

    /* A write to a closed peer must fail with EPIPE, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
