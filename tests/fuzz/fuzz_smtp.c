/*
 * libFuzzer target for the smtp codec. The input is the byte stream a
 * client sends; it goes through smtp_session as the server drives it
 * (stop at QUIT). Checks: every reply is CRLF-ended lines that start with
 * a 2xx-5xx code; a delivered message starts with its envelope and is not
 * bigger than the size limit allows; nothing depends on chunking.
 *
 * Build and run: see the top CMakeLists.txt (CC=clang, -DSL_FUZZ=ON).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const char *r, size_t len)
{
    size_t i = 0;

    if (len < 6 || r[len - 2] != '\r' || r[len - 1] != '\n') {
        abort();
    }
    while (i < len) {
        const char *nl = memchr(r + i, '\n', len - i);

        if (nl == NULL || r[i] < '2' || r[i] > '5' ||
            (r[i + 3] != ' ' && r[i + 3] != '-')) {
            abort();
        }
        i = (size_t)(nl - r) + 1;
    }
}

static void check_msg(const struct smtp_result *res)
{
    static const char env[] = "X-Envelope-From: <";

    if (res->msg_len < sizeof(env) - 1 ||
        memcmp(res->msg, env, sizeof(env) - 1) != 0 || res->nrcpt == 0 ||
        res->nrcpt > SMTP_RCPT_MAX ||
        res->msg_len >
            SMTP_SIZE_MAX + (SMTP_RCPT_MAX + 1) * (SMTP_PATH_MAX + 20)) {
        abort();
    }
}

static void run(const uint8_t *data, size_t size, size_t step,
                struct io_buf *out)
{
    struct smtp_session s;
    struct smtp_result res;
    size_t off = 0;
    int quit = 0;

    smtp_init(&s);
    while (off < size && !quit) {
        size_t chunk = size - off < step ? size - off : step;
        size_t used = 0;

        while (used < chunk && !quit) {
            int ev;

            used += smtp_feed(&s, data + off + used, chunk - used);
            while (!quit && (ev = smtp_next(&s, &res)) != SMTP_NEED_MORE) {
                if (ev < 0) {
                    abort();
                }
                check_reply(res.reply, res.reply_len);
                if (ev == SMTP_DELIVER) {
                    check_msg(&res);
                    if (io_buf_append(out, res.msg, res.msg_len) < 0) {
                        abort();
                    }
                }
                if (io_buf_append(out, res.reply, res.reply_len) < 0) {
                    abort();
                }
                quit = ev == SMTP_QUIT;
            }
        }
        off += chunk;
    }
    smtp_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct io_buf whole = {0};
    struct io_buf pieces = {0};

    run(data, size, size > 0 ? size : 1, &whole);
    run(data, size, size > 0 ? (size_t)data[0] % 13 + 1 : 1, &pieces);
    if (whole.len != pieces.len ||
        (whole.len > 0 && memcmp(whole.data, pieces.data, whole.len) != 0)) {
        abort();
    }
    io_buf_free(&whole);
    io_buf_free(&pieces);
    return 0;
}
