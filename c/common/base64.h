/*
 * base64: the RFC 4648 codec (standard alphabet, "=" padding) that MIME
 * attachments use (seed 004: 01 02 03 -> "AQID"). Pure: no I/O, no
 * allocation; the caller sizes the output with the *_len helpers.
 *
 * Decoding is strict: only alphabet characters, a length that is a
 * multiple of 4, padding only at the end and zero unused bits in the last
 * character (RFC 4648 3.5). Every byte string therefore has exactly one
 * encoding, and decode(encode(x)) == x. MIME's line breaks are the
 * caller's business: remove them before decoding.
 */
#ifndef SL_BASE64_H
#define SL_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Characters per line in a MIME body (RFC 2045 6.8): 57 input bytes. */
#define BASE64_MIME_LINE 76

/*
 * Returns the number of characters that encode n bytes (4 per started
 * group of 3), or 0 when that does not fit in a size_t.
 */
size_t base64_encoded_len(size_t n);

/* Returns the most bytes that len characters can decode to (3 per 4). */
size_t base64_decoded_max(size_t len);

/*
 * Returns the number of characters written at dst (base64_encoded_len(n),
 * no NUL added) after encoding the n bytes at src.
 */
size_t base64_encode(char *dst, const void *src, size_t n);

/*
 * Returns the number of bytes written at dst (which has room for
 * base64_decoded_max(len)) after decoding the len characters at src, or
 * -1 with errno EINVAL when src is not strict base64 (dst then holds
 * garbage).
 */
ssize_t base64_decode(void *dst, const char *src, size_t len);

#endif
