/*
 * libFuzzer target for the echo-repr codec. The input is a message: its
 * repr must decode back to the same bytes, hold only printable ASCII, use
 * the quote Python would choose, agree with pyrepr_len, and be found whole
 * by pyrepr_scan. The input is also a reply stream for pyrepr_scan, which
 * must stay within it, and a byte stream for the server's framing, whose
 * replies must not depend on chunking.
 *
 * Build and run: see the top CMakeLists.txt (CC=clang, -DSL_FUZZ=ON).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "echorepr.h"
#include "pyrepr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    abort(); /* Python writes lowercase hex only */
}

/* Decodes body[0..len) of a repr quoted with quote; aborts on bad text. */
static size_t decode(const char *body, size_t len, char quote, uint8_t *out)
{
    size_t i = 0;
    size_t n = 0;

    while (i < len) {
        char c = body[i];

        if (c < 0x20 || c > 0x7e || c == quote) {
            abort();
        }
        if (c != '\\') {
            out[n++] = (uint8_t)c;
            i++;
            continue;
        }
        if (i + 1 >= len) {
            abort();
        }
        switch (body[i + 1]) {
        case '\\':
            out[n++] = '\\';
            break;
        case '\'':
            if (quote != '\'') {
                abort();
            }
            out[n++] = '\'';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 'x':
            if (i + 3 >= len) {
                abort();
            }
            out[n] = (uint8_t)(hexval(body[i + 2]) << 4 | hexval(body[i + 3]));
            /* Only bytes with no shorter spelling are written as \xHH. */
            if ((out[n] >= 0x20 && out[n] < 0x7f) || out[n] == '\t' ||
                out[n] == '\n' || out[n] == '\r') {
                abort();
            }
            n++;
            i += 2;
            break;
        default:
            abort();
        }
        i += 2;
    }
    return n;
}

static void run_conn(const uint8_t *data, size_t size, size_t step,
                     struct io_buf *out)
{
    struct echorepr_conn c;
    size_t off;

    echorepr_conn_init(&c);
    for (off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;

        if (echorepr_conn_feed(&c, data + off, n, out) < 0) {
            abort();
        }
    }
    if (echorepr_conn_eof(&c, out) < 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *repr = malloc(PYREPR_BOUND(size));
    uint8_t *back = malloc(size + 1);
    struct io_buf whole = {0};
    struct io_buf pieces = {0};
    int has_s = memchr(data, '\'', size) != NULL;
    int has_d = memchr(data, '"', size) != NULL;
    size_t len;
    ssize_t scanned;

    if (repr == NULL || back == NULL) {
        abort();
    }
    len = pyrepr_format(repr, data, size);
    if (len != pyrepr_len(data, size) || len + 1 > PYREPR_BOUND(size) ||
        repr[len] != '\0' || len < 3 || repr[0] != 'b' ||
        repr[len - 1] != repr[1] ||
        repr[1] != ((has_s && !has_d) ? '"' : '\'')) {
        abort();
    }
    if (decode(repr + 2, len - 3, repr[1], back) != size ||
        (size > 0 && memcmp(back, data, size) != 0)) {
        abort();
    }
    if (pyrepr_scan(repr, len) != (ssize_t)len) {
        abort();
    }

    scanned = pyrepr_scan((const char *)data, size);
    if (scanned < -1 || scanned > (ssize_t)size ||
        (scanned > 0 && (scanned < 3 || data[scanned - 1] != data[1]))) {
        abort();
    }

    run_conn(data, size, size > 0 ? size : 1, &whole);
    run_conn(data, size, size > 0 ? (size_t)data[0] % 5 + 1 : 1, &pieces);
    if (whole.len != pieces.len ||
        (whole.len > 0 && memcmp(whole.data, pieces.data, whole.len) != 0)) {
        abort();
    }
    io_buf_free(&whole);
    io_buf_free(&pieces);
    free(repr);
    free(back);
    return 0;
}
