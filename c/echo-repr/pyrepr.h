/*
 * pyrepr: Python 3 repr() of a bytes object, and a scanner that finds the
 * end of such a repr in a reply stream (protocols/echo-repr/README.md).
 * Pure: no I/O, no allocation.
 */
#ifndef PYREPR_H
#define PYREPR_H

#include <stddef.h>
#include <sys/types.h>

/* Worst case: b, two quotes, four characters per byte, and a NUL. */
#define PYREPR_BOUND(n) (4 * (size_t)(n) + 4)

/* Returns the length of the repr of data[0..n) (b'...' included, NUL not). */
size_t pyrepr_len(const void *data, size_t n);

/*
 * Returns the repr length written to out, which must hold PYREPR_BOUND(n)
 * bytes; out is NUL-terminated (a repr never contains a NUL itself).
 */
size_t pyrepr_format(char *out, const void *data, size_t n);

/*
 * Returns the length of the complete repr at the start of buf[0..len) (b,
 * a quote, then bytes up to the same quote not escaped by a backslash),
 * 0 if more input is needed, or -1 if buf does not start with b' or b".
 */
ssize_t pyrepr_scan(const char *buf, size_t len);

#endif /* PYREPR_H */
