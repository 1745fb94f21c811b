/*
 * udp receiver: binds a UDP socket on every interface and, for every
 * datagram, prints `received message: ` + Python's repr of its bytes +
 * "\n", flushing at once so a SIGTERM loses nothing. Never replies. Runs
 * until SIGINT/SIGTERM.
 *
 * Slide: seed 004, "Servidor UDP" (127.0.0.1:5005, recvfrom(1024), which
 * truncates longer datagrams). This one receives into 65536 bytes, so
 * every datagram arrives whole, and binds IPv6 and IPv4.
 *
 * Run:  build/c/udp/server 5005
 *       printf 'Hello, World!' | build/c/udp/client 127.0.0.1 5005
 */
#include "net.h"
#include "num.h"
#include "pyrepr.h"

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

/* More than the largest UDP payload (65507 bytes over IPv4). */
#define UDP_BUF 65536

#define UDP_LABEL "received message: "

static volatile sig_atomic_t udp_stop;

static void udp_on_signal(int sig)
{
    (void)sig;
    udp_stop = 1;
}

int main(int argc, char *argv[])
{
    static unsigned char buf[UDP_BUF];
    static char repr[PYREPR_BOUND(UDP_BUF)];
    struct sigaction sa;
    sigset_t block;
    sigset_t waitmask;
    char errbuf[256];
    int port;
    int fd;

    if (argc != 2 || (port = num_parse_port(argv[1])) < 0) {
        fprintf(stderr, "usage: server PORT   (PORT is 1..65535)\n");
        return 2;
    }
    /*
     * SIGINT and SIGTERM stay blocked except inside pselect(), so a signal
     * that arrives between two datagrams cannot be missed by a recv()
     * that then blocks forever.
     */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = udp_on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
        sigprocmask(SIG_BLOCK, &block, &waitmask) < 0) {
        err(1, "signals");
    }
    fd = net_listen(port, SOCK_DGRAM, errbuf, sizeof(errbuf));
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    fprintf(stderr, "udp receiver on port %d\n", port);

    while (!udp_stop) {
        fd_set readable;
        ssize_t n;
        size_t len;

        FD_ZERO(&readable);
        FD_SET(fd, &readable);
        if (pselect(fd + 1, &readable, NULL, NULL, NULL, &waitmask) < 0) {
            if (errno == EINTR) {
                continue;
            }
            err(1, "pselect");
        }
        /* A zero-length datagram is a message, not an EOF. */
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
                continue;
            }
            err(1, "recv");
        }
        len = pyrepr_format(repr, buf, (size_t)n);
        if (fputs(UDP_LABEL, stdout) == EOF ||
            fwrite(repr, 1, len, stdout) != len || putchar('\n') == EOF ||
            fflush(stdout) == EOF) {
            err(1, "writing stdout");
        }
    }
    close(fd);
    return 0;
}
