/*
 * upper codec: every row of protocols/upper/vectors.tsv, every byte value,
 * and the in-place use the server makes of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "upper.h"
#include "vectors.h"

/* argv[1] overrides the shared file the build points at. */
static const char *vectors_path = SL_SOURCE_DIR "/protocols/upper/vectors.tsv";

static void test_upper_vectors(void **state)
{
    struct vectors v;
    char err[256];
    size_t i;
    size_t bad = 0;

    (void)state;
    if (vectors_load(&v, vectors_path, 2, err, sizeof(err)) < 0) {
        fail_msg("%s: %s", vectors_path, err);
    }
    assert_true(v.nrows > 0);
    for (i = 0; i < v.nrows; i++) {
        const struct vectors_row *r = &v.rows[i];
        char *out = malloc(r->field[0].len + 1);

        assert_non_null(out);
        upper_map(out, r->field[0].data, r->field[0].len);
        if (r->field[0].len != r->field[1].len ||
            memcmp(out, r->field[1].data, r->field[1].len) != 0) {
            print_error("line %zu: wrong output for \"%s\"\n", r->lineno,
                        r->field[0].data);
            bad++;
        }
        free(out);
    }
    vectors_free(&v);
    assert_int_equal(bad, 0);
}

static void test_upper_every_byte(void **state)
{
    char in[256];
    char out[256];
    int c;

    (void)state;
    for (c = 0; c < 256; c++) {
        in[c] = (char)c;
    }
    assert_ptr_equal(upper_map(out, in, sizeof(in)), out);
    for (c = 0; c < 256; c++) {
        int want = (c >= 'a' && c <= 'z') ? c - 32 : c;

        assert_int_equal((unsigned char)out[c], want);
    }
}

static void test_upper_utf8_untouched(void **state)
{
    char buf[] = "a\xc3\xa7\xc3\xa3o \xc3\xa9 ok\n";

    (void)state;
    upper_map(buf, buf, strlen(buf));
    assert_string_equal(buf, "A\xc3\xa7\xc3\xa3O \xc3\xa9 OK\n");
}

static void test_upper_empty(void **state)
{
    char out[1] = {'x'};

    (void)state;
    assert_ptr_equal(upper_map(out, "", 0), out);
    assert_int_equal(out[0], 'x');
}

/* Feeds in in chunks of step bytes until a reply, then EOF if none. */
static void expect_wire(const char *in, size_t len, const char *want,
                        size_t want_len)
{
    size_t step;

    for (step = 1; step <= len + 1; step++) {
        struct upper_conn c;
        struct io_buf wire = {0};
        size_t off = 0;
        int done = 0;

        upper_conn_init(&c);
        while (off < len && !done) {
            size_t n = len - off < step ? len - off : step;

            done = upper_conn_feed(&c, in + off, n, &wire);
            assert_true(done == 0 || done == 1);
            if (!done) {
                assert_int_equal(wire.len, 0);
            }
            off += n;
        }
        if (!done) {
            assert_int_equal(upper_conn_eof(&c, &wire), 0);
        }
        if (wire.len != want_len ||
            (want_len > 0 && memcmp(wire.data, want, want_len) != 0)) {
            fail_msg("step %zu: got %zu bytes \"%.*s\"", step, wire.len,
                     (int)wire.len, (const char *)wire.data);
        }
        io_buf_free(&wire);
    }
}

static void test_upper_framing_line(void **state)
{
    (void)state;
    expect_wire("hello, world\n", 13, "HELLO, WORLD\n", 13);
    /* Only the first line is the request. */
    expect_wire("ab\ncd\n", 6, "AB\n", 3);
    expect_wire("\n", 1, "\n", 1);
}

static void test_upper_framing_eof(void **state)
{
    (void)state;
    expect_wire("abc", 3, "ABC", 3);
    expect_wire("", 0, "", 0);
    expect_wire("\x00"
                "abc\xff",
                5,
                "\x00"
                "ABC\xff",
                5);
}

static void test_upper_framing_limit(void **state)
{
    char in[UPPER_LINE_MAX + 100];
    char want[UPPER_LINE_MAX];

    (void)state;
    /* 1023 bytes and "\n": the longest request that is answered. */
    memset(in, 'a', sizeof(in));
    memset(want, 'A', sizeof(want));
    in[UPPER_LINE_MAX - 1] = '\n';
    want[UPPER_LINE_MAX - 1] = '\n';
    expect_wire(in, UPPER_LINE_MAX, want, UPPER_LINE_MAX);
    /* 1024 bytes without "\n", more or not, is an error. */
    memset(in, 'a', sizeof(in));
    expect_wire(in, UPPER_LINE_MAX, UPPER_ERR_LONG, sizeof(UPPER_ERR_LONG) - 1);
    expect_wire(in, sizeof(in), UPPER_ERR_LONG, sizeof(UPPER_ERR_LONG) - 1);
    /* 1023 bytes then EOF is a request. */
    expect_wire(in, UPPER_LINE_MAX - 1, want, UPPER_LINE_MAX - 1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upper_vectors),
        cmocka_unit_test(test_upper_every_byte),
        cmocka_unit_test(test_upper_utf8_untouched),
        cmocka_unit_test(test_upper_empty),
        cmocka_unit_test(test_upper_framing_line),
        cmocka_unit_test(test_upper_framing_eof),
        cmocka_unit_test(test_upper_framing_limit),
    };

    if (argc > 1) {
        vectors_path = argv[1];
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
