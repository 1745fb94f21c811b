/*
 * libFuzzer target for the login codec. The input is the byte stream a
 * client sends; it goes through login_conn as the server drives it (log,
 * reply, stop after OK). Checks: every reply is one of the three lines;
 * an OK's log line is `user:password\n` with both fields 1..64 bytes, no
 * control byte or DEL, no ':' in the user; nothing depends on chunking.
 *
 * Build and run: see the top CMakeLists.txt (CC=clang, -DSL_FUZZ=ON).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *p, size_t len, int is_user)
{
    size_t i;

    if (len == 0 || len > LOGIN_FIELD_MAX) {
        abort();
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c < 0x20 || c == 0x7f || (is_user && c == ':')) {
            abort();
        }
    }
}

static void check_result(enum login_status st, const struct login_result *r)
{
    if (st == LOGIN_OK) {
        const char *colon = memchr(r->log, ':', r->log_len);

        if (r->reply_len != 3 || memcmp(r->reply, "OK\n", 3) != 0 ||
            colon == NULL || r->log_len < 4 || r->log_len >= LOGIN_LOG_MAX ||
            r->log[r->log_len - 1] != '\n') {
            abort();
        }
        check_field(r->log, (size_t)(colon - r->log), 1);
        check_field(colon + 1, (size_t)(r->log + r->log_len - 1 - colon - 1),
                    0);
        return;
    }
    if (r->log_len != 0 ||
        (strcmp(r->reply, "ERRO usuario ou senha vazio\n") != 0 &&
         strcmp(r->reply, "ERRO usuario ou senha invalido\n") != 0) ||
        strlen(r->reply) != r->reply_len) {
        abort();
    }
}

/* Drives a login_conn like the server; replies and the log go to out. */
static void run_conn(const uint8_t *data, size_t size, size_t step,
                     struct io_buf *out)
{
    struct login_conn c;
    struct login_result res;
    enum login_status st = LOGIN_MORE;
    size_t off = 0;

    login_conn_init(&c);
    while (off < size && st != LOGIN_OK) {
        size_t chunk = size - off < step ? size - off : step;
        size_t used = 0;

        while (used < chunk && st != LOGIN_OK) {
            used += login_conn_feed(&c, data + off + used, chunk - used);
            while ((st = login_conn_next(&c, &res)) != LOGIN_MORE) {
                check_result(st, &res);
                if (io_buf_append(out, res.log, res.log_len) < 0 ||
                    io_buf_append(out, res.reply, res.reply_len) < 0) {
                    abort();
                }
                if (st == LOGIN_OK) {
                    break;
                }
            }
        }
        off += chunk;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct io_buf whole = {0};
    struct io_buf pieces = {0};

    run_conn(data, size, size > 0 ? size : 1, &whole);
    run_conn(data, size, size > 0 ? (size_t)data[0] % 7 + 1 : 1, &pieces);
    if (whole.len != pieces.len ||
        (whole.len > 0 && memcmp(whole.data, pieces.data, whole.len) != 0)) {
        abort();
    }
    io_buf_free(&whole);
    io_buf_free(&pieces);
    return 0;
}
