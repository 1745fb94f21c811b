/*
 * echo-repr codec: every row of protocols/echo-repr/vectors.tsv through
 * pyrepr_format, pyrepr_scan and the server's framing; quote choice, every
 * byte value, the scanner's framing (prefixes need more, what follows the
 * repr is left, only the quotes count) and the server's (any chunking,
 * 1024-byte pieces, EOF).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "echorepr.h"
#include "pyrepr.h"
#include "vectors.h"

/* argv[1] overrides the shared file the build points at. */
static const char *vectors_path =
    SL_SOURCE_DIR "/protocols/echo-repr/vectors.tsv";

static void expect_repr(const void *data, size_t n, const char *want)
{
    char *out = malloc(PYREPR_BOUND(n));
    size_t len;

    assert_non_null(out);
    len = pyrepr_format(out, data, n);
    if (len != strlen(want) || strcmp(out, want) != 0) {
        fail_msg("repr = %s, want %s", out, want);
    }
    assert_int_equal(pyrepr_len(data, n), len);
    free(out);
}

/* Every proper prefix needs more; the whole, with or without junk after. */
static void expect_scan_ok(const char *repr)
{
    size_t len = strlen(repr);
    char *buf = malloc(len + 8);
    size_t i;

    assert_non_null(buf);
    for (i = 0; i < len; i++) {
        if (pyrepr_scan(repr, i) != 0) {
            fail_msg("scan of %zu-byte prefix of %s: %zd, want 0", i, repr,
                     pyrepr_scan(repr, i));
        }
    }
    assert_int_equal(pyrepr_scan(repr, len), (ssize_t)len);
    memcpy(buf, repr, len);
    memcpy(buf + len, "Echo ==", 7);
    assert_int_equal(pyrepr_scan(buf, len + 7), (ssize_t)len);
    free(buf);
}

static void expect_scan_bad(const char *repr)
{
    if (pyrepr_scan(repr, strlen(repr)) != -1) {
        fail_msg("scan of %s: %zd, want -1", repr,
                 pyrepr_scan(repr, strlen(repr)));
    }
}

static void test_pyrepr_vectors(void **state)
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
        char *out = malloc(PYREPR_BOUND(r->field[0].len));
        struct io_buf wire = {0};
        size_t len;

        assert_non_null(out);
        /* The server's reply to the row as one message. */
        assert_int_equal(
            echorepr_reply(r->field[0].data, r->field[0].len, &wire), 0);
        if (wire.len != 8 + r->field[1].len ||
            memcmp(wire.data, "Echo ==>", 8) != 0 ||
            memcmp(wire.data + 8, r->field[1].data, r->field[1].len) != 0) {
            print_error("line %zu: wrong reply\n", r->lineno);
            bad++;
        }
        io_buf_free(&wire);
        len = pyrepr_format(out, r->field[0].data, r->field[0].len);
        if (len != r->field[1].len || strcmp(out, r->field[1].data) != 0) {
            print_error("line %zu: repr %s, want %s\n", r->lineno, out,
                        r->field[1].data);
            bad++;
        } else if (pyrepr_len(r->field[0].data, r->field[0].len) != len ||
                   pyrepr_scan(out, len) != (ssize_t)len) {
            print_error("line %zu: len/scan disagree with %s\n", r->lineno,
                        out);
            bad++;
        }
        free(out);
    }
    vectors_free(&v);
    assert_int_equal(bad, 0);
}

static void test_pyrepr_quote_choice(void **state)
{
    (void)state;
    expect_repr("", 0, "b''");
    expect_repr("abc", 3, "b'abc'");
    expect_repr("it's", 4, "b\"it's\"");
    expect_repr("say \"hi\"", 8, "b'say \"hi\"'");
    expect_repr("it's \"both\"", 11, "b'it\\'s \"both\"'");
    expect_repr("'", 1, "b\"'\"");
    expect_repr("\"", 1, "b'\"'");
    expect_repr("'\"", 2, "b'\\'\"'");
}

static void test_pyrepr_escapes(void **state)
{
    (void)state;
    expect_repr("\\", 1, "b'\\\\'");
    expect_repr("\t\n\r", 3, "b'\\t\\n\\r'");
    expect_repr("\0\x01\x0b\x0c\x1f", 5, "b'\\x00\\x01\\x0b\\x0c\\x1f'");
    expect_repr("\x7f\x80\xff", 3, "b'\\x7f\\x80\\xff'");
    expect_repr(" ~", 2, "b' ~'");
    expect_repr("\xc3\xa9", 2, "b'\\xc3\\xa9'");
}

/* Each byte alone: the table Python's repr gives, rebuilt by rule. */
static void test_pyrepr_every_byte(void **state)
{
    char want[8];
    int c;

    (void)state;
    for (c = 0; c < 256; c++) {
        unsigned char b = (unsigned char)c;

        if (c == '\'') {
            strcpy(want, "b\"'\"");
        } else if (c == '\\') {
            strcpy(want, "b'\\\\'");
        } else if (c == '\t') {
            strcpy(want, "b'\\t'");
        } else if (c == '\n') {
            strcpy(want, "b'\\n'");
        } else if (c == '\r') {
            strcpy(want, "b'\\r'");
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(want, sizeof(want), "b'\\x%02x'", c);
        } else {
            snprintf(want, sizeof(want), "b'%c'", c);
        }
        expect_repr(&b, 1, want);
        expect_scan_ok(want);
    }
}

static void test_pyrepr_scan_prefixes(void **state)
{
    (void)state;
    expect_scan_ok("b''");
    expect_scan_ok("b'Hello world!\\n'");
    expect_scan_ok("b\"it's\\n\"");
    expect_scan_ok("b'it\\'s \"both\"\\n'");
    expect_scan_ok("b'\\x00\\t\\xc3\\xa9\\xff\\\\\\n'");
}

static void test_pyrepr_scan_malformed(void **state)
{
    (void)state;
    expect_scan_bad("x");
    expect_scan_bad("B''");
    expect_scan_bad("b`");
    expect_scan_bad("bb''");
    expect_scan_bad("Echo ==>b''");
}

/* Only the quotes matter: a body Python would not write still frames. */
static void test_pyrepr_scan_lenient_body(void **state)
{
    (void)state;
    assert_int_equal(pyrepr_scan("b'\\q'", 5), 5);
    assert_int_equal(pyrepr_scan("b\"abc\"", 6), 6);
    assert_int_equal(pyrepr_scan("b'\xc3\xa9'", 5), 5);
    assert_int_equal(pyrepr_scan("b'a\\\\'x", 7), 6);
    assert_int_equal(pyrepr_scan("b'a\\\\\\''", 8), 8);
    assert_int_equal(pyrepr_scan("b\"'\"'", 5), 4);
}

static void test_pyrepr_scan_incomplete(void **state)
{
    (void)state;
    assert_int_equal(pyrepr_scan("", 0), 0);
    assert_int_equal(pyrepr_scan("b", 1), 0);
    assert_int_equal(pyrepr_scan("b'abc", 5), 0);
    assert_int_equal(pyrepr_scan("b'abc\\", 6), 0);
    assert_int_equal(pyrepr_scan("b'\\x", 4), 0);
    assert_int_equal(pyrepr_scan("b'\\xf", 5), 0);
}

/* The scanner agrees with the formatter on random data. */
static void test_pyrepr_roundtrip_random(void **state)
{
    unsigned char data[64];
    char out[PYREPR_BOUND(64)];
    unsigned int seed = 12345;
    int round;

    (void)state;
    for (round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 65);
        size_t i;
        size_t len;

        for (i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            /* Favour quotes and backslashes, where the rules bite. */
            data[i] = (seed >> 16) % 4 == 0
                          ? (unsigned char)"'\"\\a"[(seed >> 20) % 4]
                          : (unsigned char)(seed >> 8);
        }
        len = pyrepr_format(out, data, n);
        assert_true(len <= PYREPR_BOUND(n) - 1);
        assert_int_equal(pyrepr_len(data, n), len);
        assert_int_equal(pyrepr_scan(out, len), (ssize_t)len);
    }
}

/* Feeds in in chunks of step bytes, then EOF; compares with want. */
static void expect_wire(const char *in, size_t len, const char *want,
                        size_t want_len)
{
    size_t step;

    for (step = 1; step <= len + 1; step++) {
        struct echorepr_conn c;
        struct io_buf wire = {0};
        size_t off;

        echorepr_conn_init(&c);
        for (off = 0; off < len; off += step) {
            size_t n = len - off < step ? len - off : step;

            assert_int_equal(echorepr_conn_feed(&c, in + off, n, &wire), 0);
        }
        assert_int_equal(echorepr_conn_eof(&c, &wire), 0);
        if (wire.len != want_len ||
            (want_len > 0 && memcmp(wire.data, want, want_len) != 0)) {
            fail_msg("step %zu: got \"%.*s\"", step, (int)wire.len,
                     (const char *)wire.data);
        }
        io_buf_free(&wire);
    }
}

static void test_pyrepr_framing_lines(void **state)
{
    static const char want[] = "Echo ==>b'Hello world!\\n'Echo ==>b'Again!\\n'";

    (void)state;
    expect_wire("Hello world!\nAgain!\n", 20, want, sizeof(want) - 1);
}

static void test_pyrepr_framing_prefixes(void **state)
{
    static const char in[] = "it's\n";
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(in) - 1; i++) {
        struct echorepr_conn c;
        struct io_buf wire = {0};

        echorepr_conn_init(&c);
        assert_int_equal(echorepr_conn_feed(&c, in, i, &wire), 0);
        assert_int_equal(wire.len, 0);
        assert_int_equal(
            echorepr_conn_feed(&c, in + i, sizeof(in) - 1 - i, &wire), 0);
        assert_int_equal(wire.len, 17);
        assert_memory_equal(wire.data, "Echo ==>b\"it's\\n\"", 17);
        io_buf_free(&wire);
    }
}

static void test_pyrepr_framing_eof(void **state)
{
    static const char want[] = "Echo ==>b'Hello\\n'Echo ==>b'bye'";

    (void)state;
    expect_wire("Hello\nbye", 9, want, sizeof(want) - 1);
    expect_wire("", 0, "", 0);
}

/* 1500 bytes and "\n": a 1024-byte message, then 476 bytes and "\n". */
static void test_pyrepr_framing_long_line(void **state)
{
    char in[1501];
    char want[2 * 12 + 1024 + 476 + 2];
    char *w = want;

    (void)state;
    memset(in, 'a', 1500);
    in[1500] = '\n';
    memcpy(w, "Echo ==>b'", 10);
    w += 10;
    memset(w, 'a', 1024);
    w += 1024;
    memcpy(w, "'Echo ==>b'", 11);
    w += 11;
    memset(w, 'a', 476);
    w += 476;
    memcpy(w, "\\n'", 3);
    w += 3;
    expect_wire(in, sizeof(in), want, (size_t)(w - want));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pyrepr_vectors),
        cmocka_unit_test(test_pyrepr_quote_choice),
        cmocka_unit_test(test_pyrepr_escapes),
        cmocka_unit_test(test_pyrepr_every_byte),
        cmocka_unit_test(test_pyrepr_scan_prefixes),
        cmocka_unit_test(test_pyrepr_scan_malformed),
        cmocka_unit_test(test_pyrepr_scan_lenient_body),
        cmocka_unit_test(test_pyrepr_scan_incomplete),
        cmocka_unit_test(test_pyrepr_roundtrip_random),
        cmocka_unit_test(test_pyrepr_framing_lines),
        cmocka_unit_test(test_pyrepr_framing_prefixes),
        cmocka_unit_test(test_pyrepr_framing_eof),
        cmocka_unit_test(test_pyrepr_framing_long_line),
    };

    if (argc > 1) {
        vectors_path = argv[1];
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
