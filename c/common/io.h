/*
 * io: full reads and writes on file descriptors.
 *
 * Partial I/O is the normal case: these helpers loop until done, retry
 * EINTR, and on a non-blocking descriptor wait with poll() instead of
 * failing with EAGAIN. They return -1 with errno set on error.
 */
#ifndef SL_IO_H
#define SL_IO_H

#include <stddef.h>
#include <sys/types.h>

/* A growable byte buffer; start it as {0} and release it with io_buf_free. */
struct io_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
};

/* Returns 0 once all len bytes of buf are written to fd, or -1 with errno. */
int io_write_all(int fd, const void *buf, size_t len);

/*
 * Returns the number of bytes read into buf by one read() (0 at EOF), or
 * -1 with errno set; EINTR is retried, EAGAIN is returned as is.
 */
ssize_t io_read_some(int fd, void *buf, size_t len);

/*
 * Returns the number of bytes read into buf, reading until EOF or until
 * cap bytes are held (so a result equal to cap means input may go on), or
 * -1 with errno set.
 */
ssize_t io_read_all(int fd, void *buf, size_t cap);

/*
 * Returns 0 after appending everything up to EOF on fd to b, or -1 with
 * errno set: EMSGSIZE once b would hold more than max bytes, ENOMEM.
 */
int io_read_eof(int fd, struct io_buf *b, size_t max);

/* Returns 0 after appending len bytes to b, or -1 with errno ENOMEM. */
int io_buf_append(struct io_buf *b, const void *data, size_t len);

/* Frees b's storage and leaves it empty and reusable. */
void io_buf_free(struct io_buf *b);

#endif
