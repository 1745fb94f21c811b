/*
 * libFuzzer target for the calc codec. The input is one request line for
 * calc_eval and also a byte stream for the server's framing (calc_conn).
 * Checks: the reply is one of the contract's ERRO lines or a number in the
 * pinned format (no "-0", at most 6 decimals, no trailing zeros, below
 * 1e15); the framed replies do not depend on how the stream is chunked.
 *
 * Build and run: see the top CMakeLists.txt (CC=clang, -DSL_FUZZ=ON).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const calc_errors[] = {
    "ERRO linha longa demais",  "ERRO operacao desconhecida",
    "ERRO numero de operandos", "ERRO numero invalido",
    "ERRO fora do intervalo",   "ERRO divisao por zero",
};

static void check_number(const char *s, size_t len)
{
    size_t i = 0;
    size_t dot = 0;
    double v;

    if (s[0] == '-') {
        i++;
    }
    if (i == len || s[i] < '0' || s[i] > '9') {
        abort();
    }
    for (; i < len; i++) {
        if (s[i] == '.') {
            if (dot != 0) {
                abort();
            }
            dot = i;
        } else if (s[i] < '0' || s[i] > '9') {
            abort();
        }
    }
    if (dot != 0 &&
        (len - dot - 1 > 6 || len - dot - 1 == 0 || s[len - 1] == '0')) {
        abort();
    }
    if (strcmp(s, "-0") == 0) {
        abort();
    }
    v = strtod(s, NULL);
    if (!(v > -1e15 && v < 1e15)) {
        abort();
    }
}

static void check_reply(const char *s, size_t len)
{
    size_t i;

    if (len >= CALC_REPLY_MAX || s[len] != '\0' || strlen(s) != len) {
        abort();
    }
    if (len >= 5 && memcmp(s, "ERRO ", 5) == 0) {
        for (i = 0; i < sizeof(calc_errors) / sizeof(calc_errors[0]); i++) {
            if (strcmp(s, calc_errors[i]) == 0) {
                return;
            }
        }
        abort();
    }
    check_number(s, len);
}

/* Runs data through calc_conn in chunks of step bytes, then EOF. */
static void run_conn(const uint8_t *data, size_t size, size_t step,
                     struct io_buf *out)
{
    struct calc_conn c;
    size_t off;

    calc_conn_init(&c);
    for (off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;

        if (calc_conn_feed(&c, data + off, n, out) < 0) {
            abort();
        }
    }
    if (calc_conn_eof(&c, out) < 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char reply[CALC_REPLY_MAX];
    struct io_buf whole = {0};
    struct io_buf pieces = {0};
    size_t len;
    size_t start;
    size_t i;

    len = calc_eval((const char *)data, size, reply);
    check_reply(reply, len);

    run_conn(data, size, size > 0 ? size : 1, &whole);
    run_conn(data, size, size > 0 ? (size_t)data[0] % 7 + 1 : 1, &pieces);
    if (whole.len != pieces.len ||
        (whole.len > 0 && memcmp(whole.data, pieces.data, whole.len) != 0)) {
        abort();
    }
    /* Every framed reply is a well-formed reply line. */
    for (start = 0, i = 0; i < whole.len; i++) {
        if (whole.data[i] == '\n') {
            whole.data[i] = '\0';
            check_reply((const char *)whole.data + start, i - start);
            start = i + 1;
        }
    }
    if (start != whole.len) {
        abort();
    }
    io_buf_free(&whole);
    io_buf_free(&pieces);
    return 0;
}
