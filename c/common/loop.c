/* loop: the poll()-based multi-client TCP server loop (see loop.h). */
#include "loop.h"

#include "io.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SIGPIPE is ignored anyway while the loop runs */
#endif

/* Bytes read from a connection per poll() wake-up. */
#define LOOP_READ_CHUNK 16384

struct loop;

struct loop_conn {
    struct loop *loop;
    int fd;
    int in_eof;      /* the client half-closed (read returned 0) */
    int close_asked; /* protocol asked for a close once flushed */
    int lingering;   /* SHUT_WR done, discarding until EOF or deadline */
    int dead;        /* to be closed and freed at the end of the round */
    int64_t linger_deadline; /* CLOCK_MONOTONIC milliseconds */
    struct io_buf out;       /* queued output; out_off bytes already written */
    size_t out_off;
    void *state;
    char peer[NET_ADDRSTRLEN];
};

struct loop {
    const struct loop_proto *proto;
    void *ctx;
    int listen_fd;
    int wake_fd;  /* read end of the self-pipe the signal handler writes */
    int spare_fd; /* given up to accept-and-drop a client at EMFILE */
    struct loop_conn **conns;
    size_t nconns;
    size_t conns_cap;
    struct pollfd *pfds;
    size_t pfds_cap;
    unsigned char rbuf[LOOP_READ_CHUNK];
};

/* Written by the signal handler, read by loop_run(). */
static volatile sig_atomic_t loop_stop;
static int loop_wake_wfd = -1;

static void on_stop_signal(int sig)
{
    int saved = errno;
    char c = 's';

    (void)sig;
    loop_stop = 1;
    /* Wakes poll() even if the signal arrived just before it was called. */
    if (loop_wake_wfd >= 0 && write(loop_wake_wfd, &c, 1) < 0) {
        /* the pipe is full: a wake-up is already pending */
    }
    errno = saved;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long loop_raise_nofile(void)
{
    struct rlimit rl;
    rlim_t want;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return -1;
    }
    want = rl.rlim_max;
    if (want == RLIM_INFINITY) {
        /* Some kernels refuse an infinite soft limit; ask for plenty. */
        want = rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 65536 ? rl.rlim_cur
                                                                   : 65536;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            return -1;
        }
    }
    return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

int loop_send(struct loop_conn *c, const void *data, size_t len)
{
    return io_buf_append(&c->out, data, len);
}

void loop_close_after_flush(struct loop_conn *c)
{
    c->close_asked = 1;
}

void *loop_conn_state(struct loop_conn *c)
{
    return c->state;
}

void *loop_conn_ctx(struct loop_conn *c)
{
    return c->loop->ctx;
}

const char *loop_conn_peer(const struct loop_conn *c)
{
    return c->peer;
}

static size_t pending(const struct loop_conn *c)
{
    return c->out.len - c->out_off;
}

/* Writes as much queued output as the socket takes now; 1 if any went. */
static int flush_out(struct loop_conn *c)
{
    int progress = 0;

    while (pending(c) > 0) {
        ssize_t n =
            send(c->fd, c->out.data + c->out_off, pending(c), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                c->dead = 1; /* EPIPE, ECONNRESET: the client is gone */
            }
            return progress;
        }
        c->out_off += (size_t)n;
        progress = 1;
    }
    /* All written: start the buffer over, giving back a big one. */
    c->out_off = 0;
    c->out.len = 0;
    if (c->out.cap > LOOP_HIGH_WATER) {
        io_buf_free(&c->out);
    }
    return progress;
}

/* Reads once from c and hands the bytes or the EOF to the protocol. */
static int read_in(struct loop *lp, struct loop_conn *c)
{
    const struct loop_proto *p = lp->proto;
    ssize_t n = io_read_some(c->fd, lp->rbuf, sizeof lp->rbuf);

    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            c->dead = 1; /* a reset costs the server nothing more */
        }
        return 0;
    }
    if (n == 0) {
        c->in_eof = 1;
        if (c->lingering) {
            c->dead = 1; /* the lingering close saw the client's EOF */
        } else if (!c->close_asked) {
            if (p->on_eof != NULL && p->on_eof(c) < 0) {
                c->dead = 1;
            }
            c->close_asked = 1;
        }
        return 1;
    }
    /* After a close was asked for, input is read only to be discarded. */
    if (!c->close_asked && p->on_data != NULL &&
        p->on_data(c, lp->rbuf, (size_t)n) < 0) {
        c->dead = 1;
    }
    return 1;
}

/* Moves c on after its callbacks ran: write, then close or linger. */
static void advance(struct loop_conn *c)
{
    if (!c->dead && pending(c) > 0) {
        flush_out(c);
    }
    if (c->dead || !c->close_asked || pending(c) > 0) {
        return;
    }
    if (c->in_eof) {
        c->dead = 1; /* nothing more can arrive: close now */
        return;
    }
    if (!c->lingering) {
        /*
         * Closing with unread input would make the kernel send a reset,
         * which can destroy the reply before the client reads it: send
         * our FIN, then drain until the client's EOF.
         */
        if (shutdown(c->fd, SHUT_WR) < 0) {
            c->dead = 1;
            return;
        }
        c->lingering = 1;
        c->linger_deadline = now_ms() + LOOP_LINGER_MS;
    }
}

static void handle_events(struct loop *lp, struct loop_conn *c, short rev)
{
    int progress = 0;

    if ((rev & (POLLIN | POLLHUP | POLLERR)) && !c->in_eof) {
        /* Still read after POLLHUP: data or the EOF may be waiting. */
        progress |= read_in(lp, c);
    }
    if (!c->dead && (rev & (POLLOUT | POLLHUP | POLLERR)) && pending(c)) {
        progress |= flush_out(c);
    }
    /* A hang-up or error that let nothing move would wake poll forever. */
    if ((rev & (POLLHUP | POLLERR)) && !progress) {
        c->dead = 1;
    }
    advance(c);
}

static void free_conn(struct loop *lp, struct loop_conn *c)
{
    if (lp->proto->on_close != NULL) {
        lp->proto->on_close(c);
    }
    close(c->fd);
    io_buf_free(&c->out);
    free(c->state);
    free(c);
}

/* Returns 0 after registering the accepted fd, -1 with errno (fd closed). */
static int add_conn(struct loop *lp, int fd, const char *peer)
{
    struct loop_conn *c = NULL;
    const struct loop_proto *p = lp->proto;

    if (lp->nconns == lp->conns_cap) {
        size_t cap = lp->conns_cap ? lp->conns_cap * 2 : 64;
        struct loop_conn **v = realloc(lp->conns, cap * sizeof *v);
        if (v == NULL) {
            goto fail;
        }
        lp->conns = v;
        lp->conns_cap = cap;
    }
    if (net_set_nonblock(fd) < 0) {
        goto fail;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        goto fail;
    }
    if (p->state_size > 0 && (c->state = calloc(1, p->state_size)) == NULL) {
        goto fail;
    }
    c->loop = lp;
    c->fd = fd;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    lp->conns[lp->nconns++] = c;
    if (p->on_open != NULL && p->on_open(c) < 0) {
        c->dead = 1;
    }
    advance(c);
    return 0;

fail:
    if (c != NULL) {
        free(c->state);
        free(c);
    }
    close(fd);
    errno = ENOMEM;
    return -1;
}

/* Accepts every pending client; returns -1 only on a fatal error. */
static int accept_all(struct loop *lp)
{
    char peer[NET_ADDRSTRLEN];

    for (;;) {
        int fd = net_accept(lp->listen_fd, peer, sizeof peer);
        if (fd >= 0) {
            add_conn(lp, fd, peer); /* out of memory: that client is shed */
            continue;
        }
        switch (errno) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            return 0;
        case EMFILE:
        case ENFILE:
            /*
             * Out of descriptors: the client would stay queued and poll()
             * would report the listener forever. Spend the spare
             * descriptor to accept and drop it.
             */
            if (lp->spare_fd >= 0) {
                close(lp->spare_fd);
                fd = accept(lp->listen_fd, NULL, NULL);
                if (fd >= 0) {
                    close(fd);
                }
                lp->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            }
            return 0;
        case ENOMEM:
        case ENOBUFS:
            return 0;
        case EBADF:
        case EINVAL:
        case ENOTSOCK:
        case EOPNOTSUPP:
        case EFAULT:
            return -1;
        default:
            /* ECONNABORTED, EPROTO, EPERM...: that one client is gone. */
            continue;
        }
    }
}

/* Closes and frees the connections marked dead, keeping the order. */
static void sweep(struct loop *lp)
{
    size_t j = 0;

    for (size_t i = 0; i < lp->nconns; i++) {
        struct loop_conn *c = lp->conns[i];
        if (c->dead) {
            free_conn(lp, c);
        } else {
            lp->conns[j++] = c;
        }
    }
    lp->nconns = j;
}

/* Returns poll()'s timeout: until the nearest lingering deadline, or -1. */
static int next_timeout(const struct loop *lp, int64_t now)
{
    int64_t best = -1;

    for (size_t i = 0; i < lp->nconns; i++) {
        const struct loop_conn *c = lp->conns[i];
        if (c->lingering) {
            int64_t left = c->linger_deadline - now;
            if (left < 0) {
                left = 0;
            }
            if (best < 0 || left < best) {
                best = left;
            }
        }
    }
    return (int)best;
}

/* Returns 0 after one poll() round, 1 when told to stop, -1 on error. */
static int run_once(struct loop *lp)
{
    size_t polled = lp->nconns;
    size_t need = polled + 2;
    int64_t now;
    int n;

    if (need > lp->pfds_cap) {
        struct pollfd *v = realloc(lp->pfds, need * sizeof *v);
        if (v == NULL) {
            return -1;
        }
        lp->pfds = v;
        lp->pfds_cap = need;
    }
    lp->pfds[0] = (struct pollfd){.fd = lp->wake_fd, .events = POLLIN};
    lp->pfds[1] = (struct pollfd){.fd = lp->listen_fd, .events = POLLIN};
    for (size_t i = 0; i < polled; i++) {
        const struct loop_conn *c = lp->conns[i];
        short ev = 0;
        /* Stop reading a client that does not read its replies. */
        if (!c->in_eof && (c->close_asked || pending(c) < LOOP_HIGH_WATER)) {
            ev |= POLLIN;
        }
        if (pending(c) > 0) {
            ev |= POLLOUT;
        }
        lp->pfds[i + 2] = (struct pollfd){.fd = c->fd, .events = ev};
    }
    n = poll(lp->pfds, (nfds_t)need, next_timeout(lp, now_ms()));
    if (n < 0) {
        return errno == EINTR ? 0 : -1;
    }
    if (loop_stop) {
        return 1;
    }
    for (size_t i = 0; i < polled; i++) {
        if (lp->pfds[i + 2].revents != 0) {
            handle_events(lp, lp->conns[i], lp->pfds[i + 2].revents);
        }
    }
    now = now_ms();
    for (size_t i = 0; i < polled; i++) {
        struct loop_conn *c = lp->conns[i];
        if (c->lingering && now >= c->linger_deadline) {
            c->dead = 1; /* the client never sent its EOF: close anyway */
        }
    }
    if ((lp->pfds[1].revents & POLLIN) && accept_all(lp) < 0) {
        return -1;
    }
    sweep(lp);
    return 0;
}

/* Returns 0 after making a non-blocking close-on-exec pipe, or -1. */
static int make_pipe(int fds[2])
{
    if (pipe(fds) < 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        if (net_set_nonblock(fds[i]) < 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
            int saved = errno;
            close(fds[0]);
            close(fds[1]);
            errno = saved;
            return -1;
        }
    }
    return 0;
}

int loop_run(int listen_fd, const struct loop_proto *proto, void *ctx)
{
    struct loop *lp = NULL;
    struct sigaction sa;
    struct sigaction old_int;
    struct sigaction old_term;
    struct sigaction old_pipe;
    int pipefd[2] = {-1, -1};
    int handlers = 0;
    int rc = -1;
    int saved;

    (void)loop_raise_nofile(); /* best effort: serve as many as allowed */
    if (net_set_nonblock(listen_fd) < 0 || make_pipe(pipefd) < 0) {
        return -1;
    }
    lp = calloc(1, sizeof *lp);
    if (lp == NULL) {
        goto out;
    }
    lp->proto = proto;
    lp->ctx = ctx;
    lp->listen_fd = listen_fd;
    lp->wake_fd = pipefd[0];
    lp->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    loop_stop = 0;
    loop_wake_wfd = pipefd[1];
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: poll() gets EINTR */
    if (sigaction(SIGINT, &sa, &old_int) < 0) {
        goto out;
    }
    handlers = 1;
    if (sigaction(SIGTERM, &sa, &old_term) < 0) {
        goto out;
    }
    handlers = 2;
    /* A client that vanishes mid-reply must not kill the server. */
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, &old_pipe) < 0) {
        goto out;
    }
    handlers = 3;

    for (;;) {
        int r = run_once(lp);
        if (r < 0) {
            goto out;
        }
        if (r > 0 || loop_stop) {
            break;
        }
    }
    rc = 0;

out:
    saved = errno;
    if (handlers >= 3) {
        sigaction(SIGPIPE, &old_pipe, NULL);
    }
    if (handlers >= 2) {
        sigaction(SIGTERM, &old_term, NULL);
    }
    if (handlers >= 1) {
        sigaction(SIGINT, &old_int, NULL);
    }
    loop_wake_wfd = -1;
    if (lp != NULL) {
        for (size_t i = 0; i < lp->nconns; i++) {
            free_conn(lp, lp->conns[i]);
        }
        free(lp->conns);
        free(lp->pfds);
        if (lp->spare_fd >= 0) {
            close(lp->spare_fd);
        }
        free(lp);
    }
    close(pipefd[0]);
    close(pipefd[1]);
    errno = saved;
    return rc;
}
