/* Unit tests for c/common/net over loopback, on kernel-chosen ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "net.h"

static int listen_ephemeral(int socktype, int *port)
{
    char err[256] = "";
    int fd = net_listen(0, socktype, err, sizeof err);

    if (fd < 0) {
        fail_msg("net_listen: %s", err);
    }
    *port = net_local_port(fd);
    assert_true(*port > 0);
    return fd;
}

/* Sends msg one way and back over an accepted pair. */
static void exchange(int a, int b)
{
    unsigned char buf[8];

    assert_int_equal(io_write_all(a, "ping", 4), 0);
    assert_int_equal(io_read_all(b, buf, 4), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(io_write_all(b, "pong", 4), 0);
    assert_int_equal(io_read_all(a, buf, 4), 4);
    assert_memory_equal(buf, "pong", 4);
}

static void test_net_listen_then_connect_over_ipv4(void **state)
{
    char err[256] = "";
    char peer[NET_ADDRSTRLEN] = "";
    char expect[NET_ADDRSTRLEN];
    int port;
    int lfd = listen_ephemeral(SOCK_STREAM, &port);
    int cfd = net_connect("127.0.0.1", port, SOCK_STREAM, err, sizeof err);
    int sfd;

    (void)state;
    assert_true(cfd >= 0);
    sfd = net_accept(lfd, peer, sizeof peer);
    assert_true(sfd >= 0);
    /* The dual-stack socket sees ::ffff:127.0.0.1; we show it as IPv4. */
    snprintf(expect, sizeof expect, "127.0.0.1:%d", net_local_port(cfd));
    assert_string_equal(peer, expect);
    assert_true(fcntl(sfd, F_GETFD) & FD_CLOEXEC);
    exchange(cfd, sfd);
    close(sfd);
    close(cfd);
    close(lfd);
}

static void test_net_listen_is_dual_stack(void **state)
{
    char err[256] = "";
    char peer[NET_ADDRSTRLEN] = "";
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int port;
    int lfd = listen_ephemeral(SOCK_STREAM, &port);
    int cfd;
    int sfd;

    (void)state;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
    if (ss.ss_family != AF_INET6) {
        close(lfd);
        skip(); /* this host has no IPv6: net_listen fell back to IPv4 */
    }
    cfd = net_connect("::1", port, SOCK_STREAM, err, sizeof err);
    if (cfd < 0) {
        close(lfd);
        skip(); /* IPv6 exists but ::1 is not configured */
    }
    sfd = net_accept(lfd, peer, sizeof peer);
    assert_true(sfd >= 0);
    assert_int_equal(strncmp(peer, "[::1]:", 6), 0);
    exchange(cfd, sfd);
    close(sfd);
    close(cfd);
    close(lfd);
}

static void test_net_connect_localhost_name(void **state)
{
    char err[256] = "";
    int port;
    int lfd = listen_ephemeral(SOCK_STREAM, &port);
    int cfd = net_connect("localhost", port, SOCK_STREAM, err, sizeof err);
    int sfd;

    (void)state;
    if (cfd < 0) {
        fail_msg("net_connect localhost: %s", err);
    }
    sfd = net_accept(lfd, NULL, 0);
    assert_true(sfd >= 0);
    exchange(cfd, sfd);
    close(sfd);
    close(cfd);
    close(lfd);
}

static void test_net_connect_refused_names_host_and_port(void **state)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    char err[256] = "";
    char expect[256];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    (void)state;
    /* Bound but not listening: a connect gets a reset, deterministically. */
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    port = ntohs(sin.sin_port);
    errno = 0;
    assert_int_equal(
        net_connect("127.0.0.1", port, SOCK_STREAM, err, sizeof err), -1);
    assert_int_equal(errno, ECONNREFUSED);
    snprintf(expect, sizeof expect, "connection refused to 127.0.0.1:%d", port);
    assert_string_equal(err, expect);
    close(fd);
}

static void test_net_connect_rejects_bad_port(void **state)
{
    char err[256] = "";

    (void)state;
    errno = 0;
    assert_int_equal(net_connect("127.0.0.1", 0, SOCK_STREAM, err, sizeof err),
                     -1);
    assert_int_equal(errno, EINVAL);
    assert_string_equal(err, "invalid port in 127.0.0.1:0");
}

static void test_net_listen_port_in_use(void **state)
{
    char err[256] = "";
    char expect[256];
    int port;
    int lfd = listen_ephemeral(SOCK_STREAM, &port);

    (void)state;
    errno = 0;
    assert_int_equal(net_listen(port, SOCK_STREAM, err, sizeof err), -1);
    assert_int_equal(errno, EADDRINUSE);
    snprintf(expect, sizeof expect,
             "cannot listen on port %d: address already in use", port);
    assert_string_equal(err, expect);
    close(lfd);
}

static void test_net_udp_datagram_round_trip(void **state)
{
    char err[256] = "";
    char from[NET_ADDRSTRLEN] = "";
    unsigned char buf[64];
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int port;
    int rfd = listen_ephemeral(SOCK_DGRAM, &port);
    int sfd = net_connect("127.0.0.1", port, SOCK_DGRAM, err, sizeof err);
    ssize_t n;

    (void)state;
    assert_true(sfd >= 0);
    assert_int_equal(send(sfd, "Hello, World!", 13, 0), 13);
    n = recvfrom(rfd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &len);
    assert_int_equal(n, 13);
    assert_memory_equal(buf, "Hello, World!", 13);
    assert_int_equal(
        net_addr_text((struct sockaddr *)&ss, len, from, sizeof from), 0);
    assert_int_equal(strncmp(from, "127.0.0.1:", 10), 0);
    close(sfd);
    close(rfd);
}

static void test_net_addr_text_formats(void **state)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    char buf[NET_ADDRSTRLEN];

    (void)state;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(5050);
    inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
    assert_int_equal(
        net_addr_text((struct sockaddr *)&sin, sizeof sin, buf, sizeof buf), 0);
    assert_string_equal(buf, "10.1.2.3:5050");

    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(8888);
    inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
    assert_int_equal(
        net_addr_text((struct sockaddr *)&sin6, sizeof sin6, buf, sizeof buf),
        0);
    assert_string_equal(buf, "[2001:db8::1]:8888");
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
    assert_int_equal(
        net_addr_text((struct sockaddr *)&sin6, sizeof sin6, buf, sizeof buf),
        0);
    assert_string_equal(buf, "192.0.2.7:8888");
}

static void test_net_accept_nonblocking_says_eagain(void **state)
{
    int port;
    int lfd = listen_ephemeral(SOCK_STREAM, &port);

    (void)state;
    assert_int_equal(net_set_nonblock(lfd), 0);
    assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
    errno = 0;
    assert_int_equal(net_accept(lfd, NULL, 0), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_listen_then_connect_over_ipv4),
        cmocka_unit_test(test_net_listen_is_dual_stack),
        cmocka_unit_test(test_net_connect_localhost_name),
        cmocka_unit_test(test_net_connect_refused_names_host_and_port),
        cmocka_unit_test(test_net_connect_rejects_bad_port),
        cmocka_unit_test(test_net_listen_port_in_use),
        cmocka_unit_test(test_net_udp_datagram_round_trip),
        cmocka_unit_test(test_net_addr_text_formats),
        cmocka_unit_test(test_net_accept_nonblocking_says_eagain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
