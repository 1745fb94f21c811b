/*
 * loadgen: a load generator for line ping-pong servers.
 *
 * Opens CONNECTIONS connections to HOST PORT, then keeps each one busy
 * with one request at a time: send the line, wait until the whole reply
 * is back, send the next. TOTAL requests are split evenly over the
 * connections and one poll() loop drives them all. Prints requests/s,
 * the p50 and p99 latency of single requests (CLOCK_MONOTONIC, send to
 * last reply byte, in microseconds) and the errors: failed connects,
 * resets, replies cut short, replies with wrong or extra bytes, requests
 * unanswered at the deadline. --redis-ping sends redis's inline `PING`
 * and expects `+PONG` instead of an echo.
 *
 * Not from a slide: it measures the C echo server against seed 004's
 * selectors echo server and redis-server (bench/load/run.py runs it).
 *
 * Run:  build/bench/load/loadgen 127.0.0.1 65432 -c 50 -n 100000
 *       build/bench/load/loadgen 127.0.0.1 6379 -c 50 -n 100000 --redis-ping
 *
 * Exit: 0 when every request came back intact, 1 when any failed (the
 * figures are printed all the same) or on a runtime error, 2 usage.
 */
#include "loop.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOADGEN_MAX_CONNS       100000
#define LOADGEN_MAX_REQUESTS    10000000L /* 80 MB of latency samples */
#define LOADGEN_MAX_LINE        4096
#define LOADGEN_DEFAULT_SECONDS 60

struct conn {
    int fd;         /* -1 when the connect failed or the server broke it */
    long todo;      /* requests left, counting the one in flight */
    size_t out_off; /* request bytes sent so far */
    size_t in_off;  /* reply bytes received and matched so far */
    int64_t t_sent; /* when the request in flight started, ns */
};

struct bench {
    unsigned char req[LOADGEN_MAX_LINE + 2];
    size_t req_len;
    unsigned char rep[LOADGEN_MAX_LINE + 2];
    size_t rep_len;
    struct conn *conns;
    struct pollfd *pfds;
    size_t nconns;
    size_t active;    /* connections with requests left */
    uint64_t *lat_ns; /* one sample per completed request */
    size_t done;
    long err_connect, err_reset, err_short, err_garbled, err_timeout;
};

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

_Noreturn static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen HOST PORT -c CONNECTIONS -n TOTAL_REQUESTS\n"
            "               [-s MESSAGE | --redis-ping] [-t SECONDS]\n"
            "  MESSAGE (default 'Hello, world') is sent as one line;\n"
            "  TOTAL_REQUESTS >= CONNECTIONS, so every connection is used;\n"
            "  SECONDS (default %d) bounds the run.\n",
            LOADGEN_DEFAULT_SECONDS);
    exit(2);
}

/* Gives up on c: its remaining requests are never sent. */
static void drop(struct bench *b, size_t i)
{
    struct conn *c = &b->conns[i];

    close(c->fd);
    c->fd = -1;
    b->pfds[i].fd = -1;
    b->active--;
}

/* Sends what is left of c's request; waits for POLLOUT on EAGAIN. */
static void send_more(struct bench *b, size_t i)
{
    struct conn *c = &b->conns[i];

    while (c->out_off < b->req_len) {
        ssize_t n = send(c->fd, b->req + c->out_off, b->req_len - c->out_off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                b->pfds[i].events = POLLOUT;
                return;
            }
            b->err_reset++;
            drop(b, i);
            return;
        }
        c->out_off += (size_t)n;
    }
    b->pfds[i].events = POLLIN;
}

/* Starts c's next request, stamped at t. */
static void start_request(struct bench *b, size_t i, int64_t t)
{
    struct conn *c = &b->conns[i];

    c->out_off = 0;
    c->in_off = 0;
    c->t_sent = t;
    send_more(b, i);
}

/* Reads once from c and checks the bytes against the expected reply. */
static void recv_some(struct bench *b, size_t i)
{
    /* Room for more than one reply, so extra bytes are seen, not left. */
    unsigned char buf[2 * LOADGEN_MAX_LINE + 4];
    struct conn *c = &b->conns[i];
    size_t want = b->rep_len - c->in_off;
    ssize_t n;
    int64_t t;

    do {
        n = recv(c->fd, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            b->err_reset++;
            drop(b, i);
        }
        return;
    }
    if (n == 0) {
        b->err_short++; /* the server closed with our reply unfinished */
        drop(b, i);
        return;
    }
    if ((size_t)n > want || memcmp(buf, b->rep + c->in_off, (size_t)n)) {
        b->err_garbled++;
        drop(b, i);
        return;
    }
    c->in_off += (size_t)n;
    if (c->in_off < b->rep_len) {
        return; /* a reply in pieces is normal: wait for the rest */
    }
    t = now_ns();
    b->lat_ns[b->done++] = (uint64_t)(t - c->t_sent);
    if (--c->todo > 0) {
        start_request(b, i, t);
    } else {
        /* Finished: the connection stays open, held, until the end. */
        b->pfds[i].fd = -1;
        b->active--;
    }
}

/* Returns 0 after the loop ran every request or hit the deadline. */
static int run(struct bench *b, int64_t deadline)
{
    while (b->active > 0) {
        int64_t left_ms = (deadline - now_ns()) / 1000000;
        int n;

        if (left_ms <= 0) {
            break;
        }
        n = poll(b->pfds, (nfds_t)b->nconns,
                 left_ms > 1000 ? 1000 : (int)left_ms);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        for (size_t i = 0; i < b->nconns && n > 0; i++) {
            short rev = b->pfds[i].revents;
            if (b->pfds[i].fd < 0 || rev == 0) {
                continue;
            }
            n--;
            if (b->conns[i].out_off < b->req_len) {
                send_more(b, i); /* a send error there says why */
            } else {
                recv_some(b, i); /* also reads the EOF or error of POLLHUP */
            }
        }
    }
    /* Whoever still waits at the deadline timed out. */
    for (size_t i = 0; i < b->nconns; i++) {
        if (b->pfds[i].fd >= 0) {
            b->err_timeout++;
            drop(b, i);
        }
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Returns the nearest-rank percentile p (0..100) of n sorted samples. */
static double pct_us(const uint64_t *sorted, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100;

    if (n == 0) {
        return 0.0;
    }
    return (double)sorted[rank > 0 ? rank - 1 : 0] / 1000.0;
}

/* Returns a count from the option's argument, or exits with the usage. */
static long parse_count(const char *s, long max)
{
    long v;

    if (s == NULL || num_parse_long(s, 1, max, &v) < 0) {
        usage();
    }
    return v;
}

int main(int argc, char *argv[])
{
    static struct bench b;
    const char *host;
    const char *msg = "Hello, world";
    int redis = 0;
    long conns = 0;
    long total = 0;
    long seconds = LOADGEN_DEFAULT_SECONDS;
    long errors;
    long limit;
    long share;
    long extra;
    int port;
    int64_t t0;
    int64_t t1;
    double secs;
    char errbuf[512];
    int first_err = 1;

    if (argc < 3 || (port = num_parse_port(argv[2])) < 0) {
        usage();
    }
    host = argv[1];
    for (int i = 3; i < argc; i++) {
        const char *arg = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "-c") == 0) {
            conns = parse_count(arg, LOADGEN_MAX_CONNS);
            i++;
        } else if (strcmp(argv[i], "-n") == 0) {
            total = parse_count(arg, LOADGEN_MAX_REQUESTS);
            i++;
        } else if (strcmp(argv[i], "-t") == 0) {
            seconds = parse_count(arg, 3600);
            i++;
        } else if (strcmp(argv[i], "-s") == 0 && arg != NULL) {
            msg = arg;
            i++;
        } else if (strcmp(argv[i], "--redis-ping") == 0) {
            redis = 1;
        } else {
            usage();
        }
    }
    if (conns == 0 || total < conns || strlen(msg) > LOADGEN_MAX_LINE ||
        strchr(msg, '\n') != NULL) {
        usage();
    }
    if (redis) {
        /* Inline command: redis answers a bare PING line with +PONG. */
        b.req_len = (size_t)snprintf((char *)b.req, sizeof b.req, "PING\r\n");
        b.rep_len = (size_t)snprintf((char *)b.rep, sizeof b.rep, "+PONG\r\n");
    } else {
        b.req_len = (size_t)snprintf((char *)b.req, sizeof b.req, "%s\n", msg);
        memcpy(b.rep, b.req, b.req_len);
        b.rep_len = b.req_len;
    }

    /* A server that closes on us must show up as an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    limit = loop_raise_nofile();
    if (limit < 0) {
        err(1, "raising RLIMIT_NOFILE");
    }
    if (limit < conns + 16) {
        errx(1, "%ld connections need %ld descriptors, the limit is %ld", conns,
             conns + 16, limit);
    }
    b.nconns = (size_t)conns;
    b.conns = calloc(b.nconns, sizeof *b.conns);
    b.pfds = calloc(b.nconns, sizeof *b.pfds);
    b.lat_ns = calloc((size_t)total, sizeof *b.lat_ns);
    if (b.conns == NULL || b.pfds == NULL || b.lat_ns == NULL) {
        err(1, "allocating for %ld requests", total);
    }

    /* Every connection is up before the clock starts. */
    share = total / conns;
    extra = total % conns;
    for (size_t i = 0; i < b.nconns; i++) {
        struct conn *c = &b.conns[i];
        int one = 1;

        c->todo = share + ((long)i < extra ? 1 : 0);
        c->fd = net_connect(host, port, SOCK_STREAM, errbuf, sizeof errbuf);
        if (c->fd < 0) {
            if (first_err) {
                warnx("%s", errbuf);
                first_err = 0;
            }
            b.err_connect++;
            b.pfds[i].fd = -1;
            continue;
        }
        /* One write per request: never let Nagle hold one back. */
        if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) {
            err(1, "TCP_NODELAY");
        }
        if (net_set_nonblock(c->fd) < 0) {
            err(1, "O_NONBLOCK");
        }
        b.pfds[i].fd = c->fd;
        b.active++;
    }

    t0 = now_ns();
    for (size_t i = 0; i < b.nconns; i++) {
        if (b.conns[i].fd >= 0) {
            start_request(&b, i, t0);
        }
    }
    if (run(&b, t0 + (int64_t)seconds * 1000000000) < 0) {
        err(1, "poll");
    }
    t1 = now_ns();
    for (size_t i = 0; i < b.nconns; i++) {
        if (b.conns[i].fd >= 0) {
            close(b.conns[i].fd);
        }
    }

    qsort(b.lat_ns, b.done, sizeof *b.lat_ns, cmp_u64);
    secs = (double)(t1 - t0) / 1e9;
    errors = b.err_connect + b.err_reset + b.err_short + b.err_garbled +
             b.err_timeout;
    printf("target       %s %d (%s)\n", host, port,
           redis ? "redis PING" : "echo line");
    printf("connections  %ld\n", conns);
    printf("requests     %zu of %ld\n", b.done, total);
    printf("seconds      %.6f\n", secs);
    printf("requests/s   %.1f\n", secs > 0 ? (double)b.done / secs : 0.0);
    printf("p50_us       %.1f\n", pct_us(b.lat_ns, b.done, 50));
    printf("p99_us       %.1f\n", pct_us(b.lat_ns, b.done, 99));
    printf("errors       %ld (connect %ld, reset %ld, short %ld, "
           "garbled %ld, timeout %ld)\n",
           errors, b.err_connect, b.err_reset, b.err_short, b.err_garbled,
           b.err_timeout);
    free(b.conns);
    free(b.pfds);
    free(b.lat_ns);
    return errors == 0 && b.done == (size_t)total ? 0 : 1;
}
