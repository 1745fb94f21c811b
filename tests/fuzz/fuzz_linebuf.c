/*
 * libFuzzer target for c/common/linebuf. The input is split into chunks
 * (sizes taken from the input itself) and fed through the documented
 * feed/next loop with a small capacity; the framing must equal a
 * reference framing computed in one pass over the whole input, whatever
 * the chunking, and must never hand out more than cap bytes.
 *
 * Build and run: see the top CMakeLists.txt (CC=clang, -DSL_FUZZ=ON).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linebuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX 8192

/* Reference: cut lines, cap-byte chunks, and skips by direct scanning. */
static size_t reference(const uint8_t *in, size_t len, size_t cap, int skip,
                        uint8_t *out, size_t *rest)
{
    size_t o = 0;
    size_t i = 0;
    int skipping = 0;

    while (i < len) {
        size_t j = i;
        if (skipping) {
            while (j < len && in[j] != '\n') {
                j++;
            }
            if (j == len) {
                i = len;
                break;
            }
            skipping = 0;
            i = j + 1;
            continue;
        }
        while (j < len && j - i < cap && in[j] != '\n') {
            j++;
        }
        if (j < len && in[j] == '\n' && j - i < cap) {
            out[o++] = 'L';
            memcpy(out + o, in + i, j - i + 1);
            o += j - i + 1;
            i = j + 1;
        } else if (j - i == cap) {
            out[o++] = 'O';
            memcpy(out + o, in + i, cap);
            o += cap;
            i = j;
            skipping = skip;
        } else {
            break; /* unterminated remainder */
        }
    }
    *rest = len - i;
    if (skipping) {
        *rest = 0;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t expect[OUT_MAX * 2];
    static uint8_t got[OUT_MAX * 2];
    unsigned char storage[32];
    struct linebuf lb;
    const unsigned char *line;
    const uint8_t *p;
    size_t len;
    size_t cap;
    size_t step;
    size_t exp_len;
    size_t exp_rest;
    size_t o = 0;
    size_t n;
    int skip;

    if (size < 2 || size > OUT_MAX / 2) {
        return 0;
    }
    /* First byte: capacity 1..32 and the skip flag; second: chunk seed. */
    cap = (size_t)(data[0] & 31) + 1;
    skip = (data[0] & 32) != 0;
    step = (size_t)data[1] + 1;
    p = data + 2;
    len = size - 2;
    exp_len = reference(p, len, cap, skip, expect, &exp_rest);

    linebuf_init(&lb, storage, cap);
    while (len > 0) {
        size_t chunk = len < step ? len : step;
        /* Vary chunk sizes with the data so splits land everywhere. */
        step = (step * 31 + p[0]) % 37 + 1;
        while (chunk > 0) {
            int r;
            size_t used = linebuf_feed(&lb, p, chunk);
            p += used;
            len -= used;
            chunk -= used;
            while ((r = linebuf_next(&lb, &line, &n)) != LINEBUF_NEED_MORE) {
                if (n > cap || n == 0 ||
                    (r == LINEBUF_LINE && line[n - 1] != '\n') ||
                    (r == LINEBUF_OVERLONG && n != cap)) {
                    abort();
                }
                got[o++] = r == LINEBUF_LINE ? 'L' : 'O';
                memcpy(got + o, line, n);
                o += n;
                if (r == LINEBUF_OVERLONG && skip) {
                    linebuf_skip_line(&lb);
                }
            }
        }
    }
    if (o != exp_len || memcmp(got, expect, o) != 0) {
        abort();
    }
    if (linebuf_take_rest(&lb, &line, &n)) {
        if (n != exp_rest || n > cap || memcmp(line, data + size - n, n) != 0) {
            abort();
        }
    } else if (exp_rest != 0) {
        abort();
    }
    return 0;
}
