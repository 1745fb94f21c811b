/*
 * smtp codec: whole sessions fed to the server's state machine as a
 * client would send them (all at once, one byte at a time, every proper
 * prefix), and each clause of protocols/smtp/README.md: reply texts,
 * sequence, syntax, dot-stuffing, line and size limits, bare LF.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "smtp.h"

#define EHLO_REPLY                                                             \
    "250-lesson.example\r\n250-8BITMIME\r\n250-SIZE 1048576\r\n250 HELP\r\n"

/*
 * Feeds input in chunks of step bytes and returns, NUL-terminated in a
 * malloc'ed string, every reply in order with each delivered message
 * written as "[msg]" before its reply, and "{quit}" after QUIT (input
 * after QUIT is not read, as the server does).
 */
static char *run(const char *input, size_t len, size_t step)
{
    struct smtp_session s;
    struct smtp_result res;
    struct io_buf out = {0};
    size_t off = 0;
    int quit = 0;

    smtp_init(&s);
    while (off < len && !quit) {
        size_t chunk = len - off < step ? len - off : step;
        size_t used = 0;

        while (used < chunk && !quit) {
            int ev;

            used += smtp_feed(&s, input + off + used, chunk - used);
            while (!quit && (ev = smtp_next(&s, &res)) != SMTP_NEED_MORE) {
                assert_true(ev > 0);
                if (ev == SMTP_DELIVER) {
                    assert_int_equal(io_buf_append(&out, "[", 1), 0);
                    assert_int_equal(io_buf_append(&out, res.msg, res.msg_len),
                                     0);
                    assert_int_equal(io_buf_append(&out, "]", 1), 0);
                }
                assert_int_equal(io_buf_append(&out, res.reply, res.reply_len),
                                 0);
                quit = ev == SMTP_QUIT;
            }
        }
        off += chunk;
    }
    if (quit) {
        assert_int_equal(io_buf_append(&out, "{quit}", 6), 0);
    }
    assert_int_equal(io_buf_append(&out, "", 1), 0);
    smtp_free(&s);
    return (char *)out.data;
}

static void expect(const char *input, const char *want)
{
    size_t len = strlen(input);
    char *all = run(input, len, len > 0 ? len : 1);
    char *bytes = run(input, len, 1);

    assert_string_equal(all, want);
    /* Chunking never changes the outcome. */
    assert_string_equal(bytes, want);
    free(all);
    free(bytes);
}

static void test_smtp_greeting(void **state)
{
    (void)state;
    assert_string_equal(smtp_greeting(), "220 lesson.example ESMTP ready\r\n");
}

static void test_smtp_plain_session(void **state)
{
    (void)state;
    expect("EHLO client\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"
           "RCPT TO:<c@z>\r\nDATA\r\nSubject: hi\r\n\r\nHello\r\n.\r\n"
           "QUIT\r\n",
           EHLO_REPLY "250 OK\r\n250 OK\r\n250 OK\r\n"
                      "354 End data with <CR><LF>.<CR><LF>\r\n"
                      "[X-Envelope-From: <a@x>\r\nX-Envelope-To: <b@y>\r\n"
                      "X-Envelope-To: <c@z>\r\nSubject: hi\r\n\r\nHello\r\n]"
                      "250 OK\r\n221 Bye\r\n{quit}");
}

static void test_smtp_every_prefix_needs_more(void **state)
{
    static const char line[] = "MAIL FROM:<a@x>\r\n";
    size_t n;

    (void)state;
    for (n = 0; n < sizeof(line) - 1; n++) {
        char *got = run(line, n, 1);

        assert_string_equal(got, "");
        free(got);
    }
}

static void test_smtp_verbs_ignore_case_helo_is_one_line(void **state)
{
    (void)state;
    expect("helo c\r\nmail from:<a@x>\r\nrcpt to: <b@y>\r\nnoop\r\nrset\r\n"
           "QuIt\r\n",
           "250 lesson.example\r\n250 OK\r\n250 OK\r\n250 OK\r\n250 OK\r\n"
           "221 Bye\r\n{quit}");
}

static void test_smtp_bad_sequence(void **state)
{
    (void)state;
    expect("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nEHLO c\r\n"
           "DATA\r\nRCPT TO:<b@y>\r\nMAIL FROM:<a@x>\r\nDATA\r\n"
           "MAIL FROM:<a@x>\r\n",
           "503 Bad sequence of commands\r\n503 Bad sequence of commands\r\n"
           "503 Bad sequence of commands\r\n" EHLO_REPLY
           "503 Bad sequence of commands\r\n503 Bad sequence of commands\r\n"
           "250 OK\r\n503 Bad sequence of commands\r\n"
           "503 Bad sequence of commands\r\n");
}

static void test_smtp_syntax_and_unknown(void **state)
{
    (void)state;
    expect("EHLO\r\nHELO   \r\nHELO c\r\nMAIL alice\r\nMAIL FROM:a@x\r\n"
           "MAIL FROM:<a b>\r\nMAIL FROM:<a@x>junk\r\nRCPT TO:<>\r\n"
           "VRFY bob\r\nSTARTTLS\r\nFOO\r\n\r\nEHLOX c\r\n",
           "501 Syntax error in parameters\r\n"
           "501 Syntax error in parameters\r\n250 lesson.example\r\n"
           "501 Syntax error in parameters\r\n"
           "501 Syntax error in parameters\r\n"
           "501 Syntax error in parameters\r\n"
           "501 Syntax error in parameters\r\n"
           "501 Syntax error in parameters\r\n"
           "502 Command not implemented\r\n502 Command not implemented\r\n"
           "500 Command unrecognized\r\n500 Command unrecognized\r\n"
           "500 Command unrecognized\r\n");
}

static void test_smtp_nul_in_a_command(void **state)
{
    static const char in[] = "MA\0IL FROM:<a@x>\r\nHELO c\0d\r\n";
    char *got = run(in, sizeof(in) - 1, 1);

    (void)state;
    assert_string_equal(got, "500 Command unrecognized\r\n"
                             "250 lesson.example\r\n");
    free(got);
}

static void test_smtp_null_sender_and_params(void **state)
{
    (void)state;
    expect("EHLO c\r\nMAIL FROM:<> BODY=8BITMIME SIZE=100\r\n"
           "RCPT TO:<b@y> NOTIFY=NEVER\r\nRSET\r\n"
           "MAIL FROM:<a@x> SIZE=1048577\r\nMAIL FROM:<a@x> SIZE=1x\r\n",
           EHLO_REPLY "250 OK\r\n250 OK\r\n250 OK\r\n"
                      "552 Message size exceeds fixed maximum message size\r\n"
                      "501 Syntax error in parameters\r\n");
}

static void test_smtp_dot_stuffing(void **state)
{
    (void)state;
    expect("HELO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"
           "..\r\n..hidden\r\n...two\r\n. x\r\n.\r\n",
           "250 lesson.example\r\n250 OK\r\n250 OK\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n"
           "[X-Envelope-From: <a@x>\r\nX-Envelope-To: <b@y>\r\n"
           ".\r\n.hidden\r\n..two\r\n x\r\n]250 OK\r\n");
}

static void test_smtp_pipelined_then_second_message(void **state)
{
    (void)state;
    /* After a delivery the transaction is new: the old envelope is gone. */
    expect("HELO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n1\r\n.\r\n"
           "MAIL FROM:<c@x>\r\nRCPT TO:<d@y>\r\nDATA\r\n2\r\n.\r\n",
           "250 lesson.example\r\n250 OK\r\n250 OK\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n"
           "[X-Envelope-From: <a@x>\r\nX-Envelope-To: <b@y>\r\n1\r\n]"
           "250 OK\r\n250 OK\r\n250 OK\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n"
           "[X-Envelope-From: <c@x>\r\nX-Envelope-To: <d@y>\r\n2\r\n]"
           "250 OK\r\n");
}

static void test_smtp_long_lines(void **state)
{
    char in[4096];
    size_t n = 0;

    (void)state;
    /* A 513-byte command, then a 1200-byte data line. */
    n += (size_t)sprintf(in + n, "HELO c\r\n");
    memset(in + n, 'N', 511);
    n += 511;
    n += (size_t)sprintf(in + n, "\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"
                                 "DATA\r\n");
    memset(in + n, 'x', 1200);
    n += 1200;
    n += (size_t)sprintf(in + n, "\r\nok\r\n.\r\nNOOP\r\n");
    in[n] = '\0';
    expect(in, "250 lesson.example\r\n500 Line too long\r\n250 OK\r\n"
               "250 OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
               "500 Line too long\r\n250 OK\r\n");
}

static void test_smtp_exact_limits_are_accepted(void **state)
{
    char in[4096];
    char want[4096];
    size_t n = 0;

    (void)state;
    /* 510 bytes + CRLF = 512 (command); 998 + CRLF = 1000 (data). */
    n += (size_t)sprintf(in + n, "NOOP ");
    memset(in + n, 'n', 505);
    n += 505;
    n += (size_t)sprintf(in + n, "\r\nHELO c\r\nMAIL FROM:<a@x>\r\n"
                                 "RCPT TO:<b@y>\r\nDATA\r\n");
    memset(in + n, 'x', 998);
    n += 998;
    n += (size_t)sprintf(in + n, "\r\n.\r\n");
    in[n] = '\0';
    n = (size_t)sprintf(want, "250 OK\r\n250 lesson.example\r\n250 OK\r\n"
                              "250 OK\r\n354 End data with <CR><LF>.<CR><LF>"
                              "\r\n[X-Envelope-From: <a@x>\r\n"
                              "X-Envelope-To: <b@y>\r\n");
    memset(want + n, 'x', 998);
    n += 998;
    sprintf(want + n, "\r\n]250 OK\r\n");
    expect(in, want);
}

static void test_smtp_bare_lf(void **state)
{
    (void)state;
    expect("HELO c\nHELO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"
           "one\ntwo\r\n.\nNOOP\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"
           "DATA\r\nfine\r\n.\n",
           "500 Bare LF not allowed\r\n250 lesson.example\r\n250 OK\r\n"
           "250 OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
           "554 Bare LF not allowed\r\n250 OK\r\n250 OK\r\n250 OK\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n"
           "554 Bare LF not allowed\r\n");
}

static void test_smtp_size_limit(void **state)
{
    size_t line = 998;
    size_t lines = SMTP_SIZE_MAX / (line + 2) + 2;
    size_t cap = 64 + lines * (line + 2) + 64;
    char *in = malloc(cap);
    char *got;
    size_t n = 0;
    size_t i;

    (void)state;
    assert_non_null(in);
    n += (size_t)sprintf(in, "HELO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"
                             "DATA\r\n");
    for (i = 0; i < lines; i++) {
        memset(in + n, 'z', line);
        n += line;
        in[n++] = '\r';
        in[n++] = '\n';
    }
    n += (size_t)sprintf(in + n, ".\r\nNOOP\r\n");
    got = run(in, n, 4096);
    assert_string_equal(got, "250 lesson.example\r\n250 OK\r\n250 OK\r\n"
                             "354 End data with <CR><LF>.<CR><LF>\r\n"
                             "552 Message size exceeds fixed maximum message "
                             "size\r\n250 OK\r\n");
    free(got);
    free(in);
}

static void test_smtp_too_many_recipients(void **state)
{
    char in[8192];
    char want[8192];
    size_t n = 0;
    size_t w = 0;
    int i;

    (void)state;
    n += (size_t)sprintf(in, "HELO c\r\nMAIL FROM:<a@x>\r\n");
    w += (size_t)sprintf(want, "250 lesson.example\r\n250 OK\r\n");
    for (i = 0; i <= SMTP_RCPT_MAX; i++) {
        n += (size_t)sprintf(in + n, "RCPT TO:<u%d@y>\r\n", i);
        w += (size_t)sprintf(want + w, "%s",
                             i < SMTP_RCPT_MAX ? "250 OK\r\n"
                                               : "452 Too many recipients\r\n");
    }
    expect(in, want);
}

static void test_smtp_eof_mid_data_delivers_nothing(void **state)
{
    (void)state;
    /* No final ".": the run ends without a "[...]" delivery. */
    expect("HELO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nhalf\r\n"
           ".x",
           "250 lesson.example\r\n250 OK\r\n250 OK\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smtp_greeting),
        cmocka_unit_test(test_smtp_plain_session),
        cmocka_unit_test(test_smtp_every_prefix_needs_more),
        cmocka_unit_test(test_smtp_verbs_ignore_case_helo_is_one_line),
        cmocka_unit_test(test_smtp_bad_sequence),
        cmocka_unit_test(test_smtp_syntax_and_unknown),
        cmocka_unit_test(test_smtp_nul_in_a_command),
        cmocka_unit_test(test_smtp_null_sender_and_params),
        cmocka_unit_test(test_smtp_dot_stuffing),
        cmocka_unit_test(test_smtp_pipelined_then_second_message),
        cmocka_unit_test(test_smtp_long_lines),
        cmocka_unit_test(test_smtp_exact_limits_are_accepted),
        cmocka_unit_test(test_smtp_bare_lf),
        cmocka_unit_test(test_smtp_size_limit),
        cmocka_unit_test(test_smtp_too_many_recipients),
        cmocka_unit_test(test_smtp_eof_mid_data_delivers_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
