/*
 * base64 codec: every row of protocols/base64/vectors.tsv (RFC 4648
 * section 10, the seed 004 slide's examples, invalid inputs), then the
 * size helpers and a round trip over every length up to 3 groups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "vectors.h"

static const char *vectors_path = SL_SOURCE_DIR "/protocols/base64/vectors.tsv";

static void test_base64_vectors(void **state)
{
    struct vectors v;
    char err[256];
    size_t i;
    size_t bad = 0;
    size_t nok = 0;
    size_t nbad = 0;

    (void)state;
    if (vectors_load(&v, vectors_path, 3, err, sizeof(err)) < 0) {
        fail_msg("%s: %s", vectors_path, err);
    }
    for (i = 0; i < v.nrows; i++) {
        const struct vectors_row *r = &v.rows[i];
        const struct vectors_field *raw = &r->field[1];
        const struct vectors_field *enc = &r->field[2];
        char out[256];
        unsigned char dec[256];
        ssize_t n;

        assert_true(raw->len < 150 && enc->len < 200);
        if (strcmp(r->field[0].data, "ok") == 0) {
            size_t m = base64_encode(out, raw->data, raw->len);

            nok++;
            n = base64_decode(dec, enc->data, enc->len);
            if (m != enc->len || memcmp(out, enc->data, m) != 0 ||
                base64_encoded_len(raw->len) != m || n < 0 ||
                (size_t)n != raw->len || memcmp(dec, raw->data, raw->len)) {
                print_error("line %zu: encode gave \"%.*s\", decode %zd\n",
                            r->lineno, (int)m, out, n);
                bad++;
            }
        } else if (strcmp(r->field[0].data, "bad") == 0) {
            nbad++;
            errno = 0;
            n = base64_decode(dec, enc->data, enc->len);
            if (n != -1 || errno != EINVAL) {
                print_error("line %zu: \"%s\" decoded (%zd bytes)\n", r->lineno,
                            enc->data, n);
                bad++;
            }
        } else {
            print_error("line %zu: kind \"%s\"\n", r->lineno, r->field[0].data);
            bad++;
        }
    }
    vectors_free(&v);
    /* The file must exercise both directions. */
    assert_true(nok >= 9);
    assert_true(nbad >= 10);
    assert_int_equal(bad, 0);
}

static void test_base64_slide_examples(void **state)
{
    static const unsigned char three[] = {0x01, 0x02, 0x03, 0xce};
    char out[8];

    (void)state;
    assert_int_equal(base64_encode(out, three, 3), 4);
    assert_memory_equal(out, "AQID", 4);
    assert_int_equal(base64_encode(out, three, 4), 8);
    assert_memory_equal(out, "AQIDzg==", 8);
}

static void test_base64_sizes(void **state)
{
    (void)state;
    assert_int_equal(base64_encoded_len(0), 0);
    assert_int_equal(base64_encoded_len(1), 4);
    assert_int_equal(base64_encoded_len(3), 4);
    assert_int_equal(base64_encoded_len(4), 8);
    assert_int_equal(base64_encoded_len(57), BASE64_MIME_LINE);
    assert_int_equal(base64_encoded_len(SIZE_MAX), 0);
    assert_int_equal(base64_decoded_max(0), 0);
    assert_int_equal(base64_decoded_max(8), 6);
    assert_int_equal(base64_decoded_max(7), 3);
}

static void test_base64_round_trip_every_length(void **state)
{
    unsigned char in[9];
    unsigned char dec[9];
    char enc[12];
    size_t n;

    (void)state;
    for (n = 0; n <= sizeof(in); n++) {
        size_t k;
        size_t m;

        for (k = 0; k < n; k++) {
            in[k] = (unsigned char)(0xa5 ^ (k * 37));
        }
        m = base64_encode(enc, in, n);
        assert_int_equal(m, base64_encoded_len(n));
        assert_int_equal(base64_decode(dec, enc, m), (ssize_t)n);
        assert_memory_equal(dec, in, n);
    }
}

static void test_base64_decode_stops_at_first_bad_group(void **state)
{
    unsigned char dec[6];

    (void)state;
    errno = 0;
    assert_int_equal(base64_decode(dec, "Zm9v=m9v", 8), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(base64_decode(dec, "", 0), 0);
}

int main(int argc, char *argv[])
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_slide_examples),
        cmocka_unit_test(test_base64_sizes),
        cmocka_unit_test(test_base64_round_trip_every_length),
        cmocka_unit_test(test_base64_decode_stops_at_first_bad_group),
    };

    if (argc > 1) {
        vectors_path = argv[1];
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
