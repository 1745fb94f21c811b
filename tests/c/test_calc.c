/*
 * calc codec: every row of protocols/calc/vectors.tsv, then the check order
 * and number format edge cases the brief pins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "calc.h"
#include "vectors.h"

/* argv[1] overrides the shared file the build points at. */
static const char *vectors_path = SL_SOURCE_DIR "/protocols/calc/vectors.tsv";

static void expect_reply(const char *req, const char *want)
{
    char out[CALC_REPLY_MAX];
    size_t n = calc_eval(req, strlen(req), out);

    if (n != strlen(want) || memcmp(out, want, n) != 0) {
        fail_msg("calc_eval(\"%s\") = \"%s\", want \"%s\"", req, out, want);
    }
    assert_int_equal(out[n], '\0');
}

static void test_calc_vectors(void **state)
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
        char out[CALC_REPLY_MAX];
        size_t n = calc_eval(r->field[0].data, r->field[0].len, out);
        struct calc_conn c;
        struct io_buf wire = {0};

        if (n != r->field[1].len || memcmp(out, r->field[1].data, n) != 0) {
            print_error("line %zu: \"%s\" -> \"%s\", want \"%s\"\n", r->lineno,
                        r->field[0].data, out, r->field[1].data);
            bad++;
        }

        /* The same row as the server sees it: framed, then answered. */
        calc_conn_init(&c);
        assert_int_equal(
            calc_conn_feed(&c, r->field[0].data, r->field[0].len, &wire), 0);
        assert_int_equal(calc_conn_feed(&c, "\n", 1, &wire), 0);
        if (wire.len != r->field[1].len + 1 ||
            memcmp(wire.data, r->field[1].data, r->field[1].len) != 0 ||
            wire.data[wire.len - 1] != '\n') {
            print_error("line %zu: framed reply \"%.*s\", want \"%s\"\n",
                        r->lineno, (int)wire.len, (const char *)wire.data,
                        r->field[1].data);
            bad++;
        }
        io_buf_free(&wire);
    }
    vectors_free(&v);
    assert_int_equal(bad, 0);
}

static void test_calc_examples(void **state)
{
    (void)state;
    expect_reply("DIV 1 3", "0.333333");
    expect_reply("SOMA 0.1 0.2", "0.3");
    expect_reply("MUL -2.5 4", "-10");
    expect_reply("SUB 0 0.0000001", "0");
    expect_reply("DIV 2 3", "0.666667");
    expect_reply("SOMA 2 2", "4");
}

static void test_calc_negative_zero(void **state)
{
    (void)state;
    expect_reply("MUL -1 0", "0");
    expect_reply("SUB -0.0000001 0", "0");
    expect_reply("DIV -0.0000004 1", "0");
    expect_reply("DIV -0.0000005 1", "0"); /* binary value below */
    expect_reply("DIV -0.0000015 1", "-0.000002");
    expect_reply("SOMA -0 -0", "0");
}

/* "%.6f" rounds the exact binary value, half to even. */
static void test_calc_rounding(void **state)
{
    (void)state;
    expect_reply("SOMA 0.0000005 0", "0"); /* just below 5e-7 */
    expect_reply("SOMA 0.0000015 0", "0.000002");
    expect_reply("SOMA 2.675 0", "2.675");
    expect_reply("DIV 1 8000000", "0");           /* 1.25e-7 */
    expect_reply("SOMA 1.0000005 0", "1.000001"); /* binary value above */
    expect_reply("DIV 999999999999999 1", "999999999999999");
}

static void test_calc_whitespace(void **state)
{
    (void)state;
    expect_reply("SOMA 1 2\r", "3");
    expect_reply("  SUB   1   2  ", "-1");
    expect_reply("  SUB   1   2  \r", "-1");
    expect_reply("SOMA\t1 2", "ERRO operacao desconhecida");
    expect_reply("SOMA 1\t2", "ERRO numero de operandos");
    expect_reply("SOMA 1 2\t", "ERRO numero invalido");
    expect_reply("SOMA 1 2\r\r", "ERRO numero invalido");
    expect_reply("SOMA 1 2\r ", "ERRO numero invalido");
}

static void test_calc_check_order(void **state)
{
    (void)state;
    expect_reply("", "ERRO operacao desconhecida");
    expect_reply("   ", "ERRO operacao desconhecida");
    expect_reply("\r", "ERRO operacao desconhecida");
    expect_reply("soma 1 2", "ERRO operacao desconhecida");
    expect_reply("POT 1", "ERRO operacao desconhecida");
    expect_reply("SOMAR 1 2", "ERRO operacao desconhecida");
    expect_reply("SOMA", "ERRO numero de operandos");
    expect_reply("SOMA x", "ERRO numero de operandos");
    expect_reply("DIV 1 0 0", "ERRO numero de operandos");
    expect_reply("SOMA 1e99 x", "ERRO numero invalido");
    /* Syntax of both operands before the range of either. */
    expect_reply("SOMA 1000000000000000 x", "ERRO numero invalido");
    expect_reply("DIV 1000000000000000 0", "ERRO fora do intervalo");
    expect_reply("DIV x 0", "ERRO numero invalido");
    expect_reply("DIV 1 0", "ERRO divisao por zero");
    expect_reply("DIV 1 -0.000", "ERRO divisao por zero");
    expect_reply("MUL 100000000 10000000", "ERRO fora do intervalo");
}

static void test_calc_operand_syntax(void **state)
{
    static const char *const bad[] = {
        "1e5", "1E5", ".5",   "5.",    "inf", "nan",      "+",    "-",
        "--1", "+-1", "0x10", "1.2.3", "1,5", "infinity", "1 .5", "\xd9\xa1",
    };
    static const char *const good[] = {
        "+5", "-5", "007", "0.0", "-0.5", "+0.25",
    };
    char req[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(req, sizeof(req), "SOMA 1 %s", bad[i]);
        if (strchr(bad[i], ' ') != NULL) {
            expect_reply(req, "ERRO numero de operandos");
        } else {
            expect_reply(req, "ERRO numero invalido");
        }
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char out[CALC_REPLY_MAX];

        snprintf(req, sizeof(req), "SOMA %s 0", good[i]);
        calc_eval(req, strlen(req), out);
        assert_int_not_equal(strncmp(out, "ERRO", 4), 0);
    }
}

static void test_calc_range(void **state)
{
    (void)state;
    expect_reply("SOMA 999999999999999 0", "999999999999999");
    expect_reply("SOMA -999999999999999 0", "-999999999999999");
    expect_reply("SOMA 1000000000000000 0", "ERRO fora do intervalo");
    expect_reply("SOMA -1000000000000000 0", "ERRO fora do intervalo");
    expect_reply("SOMA 0 1000000000000000.0", "ERRO fora do intervalo");
    expect_reply("SOMA 999999999999999 1", "ERRO fora do intervalo");
    expect_reply("SUB -999999999999999 1", "ERRO fora do intervalo");
    expect_reply("DIV 1 0.000000000000001", "999999999999999.875");
    expect_reply("DIV 1 0.0000000000000001", "ERRO fora do intervalo");
    expect_reply("MUL 999999999999999 999999999999999",
                 "ERRO fora do intervalo");
    expect_reply("SOMA 999999999999999.5 0", "999999999999999.5");
}

/* Bytes after a NUL still count: the codec works on lengths. */
static void test_calc_embedded_nul(void **state)
{
    char out[CALC_REPLY_MAX];
    size_t n;

    (void)state;
    n = calc_eval("SOMA 1 2\0", 9, out);
    assert_string_equal(out, "ERRO numero invalido");
    assert_int_equal(n, strlen(out));
    n = calc_eval("SOMA\0 1 2", 9, out);
    assert_string_equal(out, "ERRO operacao desconhecida");
    assert_int_equal(n, strlen(out));
}

/* The longest line the framing lets through still fits the reply buffer. */
static void test_calc_longest_line(void **state)
{
    char line[CALC_LINE_MAX];
    char out[CALC_REPLY_MAX];
    size_t len = CALC_LINE_MAX - 1;

    (void)state;
    memset(line, '0', len);
    memcpy(line, "SOMA 0.", 7);
    line[len - 2] = ' ';
    line[len - 1] = '1';
    calc_eval(line, len, out);
    assert_string_equal(out, "1");
    line[len] = ' ';
    calc_eval(line, len + 1, out);
    assert_string_equal(out, CALC_ERR_LONG);
}

/* Feeds in in chunks of step bytes, then EOF; returns what came out. */
static void run_conn(const char *in, size_t len, size_t step,
                     struct io_buf *wire)
{
    struct calc_conn c;
    size_t off;

    calc_conn_init(&c);
    for (off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;

        assert_int_equal(calc_conn_feed(&c, in + off, n, wire), 0);
    }
    assert_int_equal(calc_conn_eof(&c, wire), 0);
}

static void expect_wire(const char *in, size_t len, const char *want)
{
    size_t step;

    for (step = 1; step <= len + 1; step++) {
        struct io_buf wire = {0};

        run_conn(in, len, step, &wire);
        if (wire.len != strlen(want) ||
            (wire.len > 0 && memcmp(wire.data, want, wire.len) != 0)) {
            fail_msg("step %zu: got \"%.*s\", want \"%s\"", step, (int)wire.len,
                     (const char *)wire.data, want);
        }
        io_buf_free(&wire);
    }
}

/* No reply before the "\n": every proper prefix needs more. */
static void test_calc_framing_prefixes(void **state)
{
    static const char req[] = "SOMA 1 2\r\n";
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(req) - 1; i++) {
        struct calc_conn c;
        struct io_buf wire = {0};

        calc_conn_init(&c);
        assert_int_equal(calc_conn_feed(&c, req, i, &wire), 0);
        assert_int_equal(wire.len, 0);
        assert_int_equal(
            calc_conn_feed(&c, req + i, sizeof(req) - 1 - i, &wire), 0);
        assert_int_equal(wire.len, 2);
        assert_memory_equal(wire.data, "3\n", 2);
        io_buf_free(&wire);
    }
}

/* Any chunking, one byte at a time included, gives the same replies. */
static void test_calc_framing_chunking(void **state)
{
    static const char in[] = "SOMA 2 2\nDIV 1 0\r\n\n  MUL 2 3  \nSUB 1 1";

    (void)state;
    expect_wire(in, sizeof(in) - 1,
                "4\nERRO divisao por zero\nERRO operacao desconhecida\n6\n0\n");
}

/* The 256th byte with no "\n" gets the error; the rest is dropped. */
static void test_calc_framing_overlong(void **state)
{
    char in[CALC_LINE_MAX + 64];
    struct calc_conn c;
    struct io_buf wire = {0};
    size_t n = 300;

    (void)state;
    memset(in, '1', n);
    memcpy(in + n, "\nSOMA 1 1\n", 10);
    expect_wire(in, n + 10, CALC_ERR_LONG "\n2\n");

    /* The reply is due at byte 256, before the line ends. */
    calc_conn_init(&c);
    assert_int_equal(calc_conn_feed(&c, in, CALC_LINE_MAX - 1, &wire), 0);
    assert_int_equal(wire.len, 0);
    assert_int_equal(calc_conn_feed(&c, in, 1, &wire), 0);
    assert_int_equal(wire.len, sizeof(CALC_ERR_LONG));
    io_buf_free(&wire);

    /* 255 bytes and "\n" is the longest line that is served. */
    memset(in, ' ', CALC_LINE_MAX - 1);
    memcpy(in, "SOMA 1 1", 8);
    in[CALC_LINE_MAX - 1] = '\n';
    expect_wire(in, CALC_LINE_MAX, "2\n");
    /* A CR makes it 257 bytes: too long. */
    in[CALC_LINE_MAX - 1] = '\r';
    in[CALC_LINE_MAX] = '\n';
    expect_wire(in, CALC_LINE_MAX + 1, CALC_ERR_LONG "\n");
}

static void test_calc_framing_eof(void **state)
{
    (void)state;
    expect_wire("SOMA 1 1\nMUL 2 3", 16, "2\n6\n");
    expect_wire("", 0, "");
    expect_wire("SOMA 1 1\n", 9, "2\n");
    expect_wire("\r", 1, "ERRO operacao desconhecida\n");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calc_vectors),
        cmocka_unit_test(test_calc_examples),
        cmocka_unit_test(test_calc_negative_zero),
        cmocka_unit_test(test_calc_rounding),
        cmocka_unit_test(test_calc_whitespace),
        cmocka_unit_test(test_calc_check_order),
        cmocka_unit_test(test_calc_operand_syntax),
        cmocka_unit_test(test_calc_range),
        cmocka_unit_test(test_calc_embedded_nul),
        cmocka_unit_test(test_calc_longest_line),
        cmocka_unit_test(test_calc_framing_prefixes),
        cmocka_unit_test(test_calc_framing_chunking),
        cmocka_unit_test(test_calc_framing_overlong),
        cmocka_unit_test(test_calc_framing_eof),
    };

    if (argc > 1) {
        vectors_path = argv[1];
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
