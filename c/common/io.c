/* io: full reads and writes (see io.h). */
#include "io.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Returns 0 once fd is ready for events (EINTR retried), -1 on error. */
static int wait_for(int fd, short events)
{
    struct pollfd pfd = {.fd = fd, .events = events};

    for (;;) {
        int n = poll(&pfd, 1, -1);
        if (n >= 0) {
            return 0;
        }
        if (errno != EINTR) {
            return -1;
        }
    }
}

int io_write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* A non-blocking fd: wait until the peer has taken some. */
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (wait_for(fd, POLLOUT) < 0) {
                    return -1;
                }
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t io_read_some(int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0 || errno != EINTR) {
            return n;
        }
    }
}

/* Returns io_read_some's result, waiting out EAGAIN on non-blocking fds. */
static ssize_t read_waiting(int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = io_read_some(fd, buf, len);
        if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            return n;
        }
        if (wait_for(fd, POLLIN) < 0) {
            return -1;
        }
    }
}

ssize_t io_read_all(int fd, void *buf, size_t cap)
{
    unsigned char *p = buf;
    size_t got = 0;

    if (cap > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    while (got < cap) {
        ssize_t n = read_waiting(fd, p + got, cap - got);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Returns 0 once b has room for extra more bytes, -1 with ENOMEM. */
static int reserve(struct io_buf *b, size_t extra)
{
    size_t want;
    unsigned char *p;

    if (extra > SIZE_MAX - b->len) {
        errno = ENOMEM;
        return -1;
    }
    want = b->len + extra;
    if (want <= b->cap) {
        return 0;
    }
    size_t cap = b->cap > 0 ? b->cap : 4096;
    while (cap < want) {
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        errno = ENOMEM;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int io_buf_append(struct io_buf *b, const void *data, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (reserve(b, len) < 0) {
        return -1;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

void io_buf_free(struct io_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int io_read_eof(int fd, struct io_buf *b, size_t max)
{
    for (;;) {
        ssize_t n;

        if (reserve(b, 4096) < 0) {
            return -1;
        }
        n = read_waiting(fd, b->data + b->len, b->cap - b->len);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            return 0;
        }
        b->len += (size_t)n;
        if (b->len > max) {
            errno = EMSGSIZE;
            return -1;
        }
    }
}
