/*
 * libFuzzer target for c/common/base64. Checks: decoding any input never
 * overruns its base64_decoded_max() buffer and either fails with EINVAL
 * or yields bytes whose encoding is the input again (strict decoding
 * means one encoding per byte string); encoding the input and decoding
 * that gives the input back.
 *
 * Build and run: see the top CMakeLists.txt (CC=clang, -DSL_FUZZ=ON).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t elen = base64_encoded_len(size);
    char *enc = malloc(elen + 1);
    /* Exact sizes, so ASan sees any write past what the header promises. */
    unsigned char *dec = malloc(base64_decoded_max(size) + 1);
    unsigned char *back = malloc(size + 1);
    char *again = malloc(elen + 1);
    ssize_t n;

    if (enc == NULL || dec == NULL || back == NULL || again == NULL) {
        abort();
    }
    errno = 0;
    n = base64_decode(dec, (const char *)data, size);
    if (n < 0) {
        if (n != -1 || errno != EINVAL) {
            abort();
        }
    } else if ((size_t)n > base64_decoded_max(size) ||
               base64_encode(again, dec, (size_t)n) != size ||
               memcmp(again, data, size) != 0) {
        abort();
    }

    if (base64_encode(enc, data, size) != elen) {
        abort();
    }
    n = base64_decode(back, enc, elen);
    if (n < 0 || (size_t)n != size || memcmp(back, data, size) != 0) {
        abort();
    }
    free(enc);
    free(dec);
    free(back);
    free(again);
    return 0;
}
