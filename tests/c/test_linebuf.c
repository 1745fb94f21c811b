/* Unit tests for c/common/linebuf: incremental line framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "linebuf.h"

/* What framing a byte stream produced: "L:" lines, "O:" overlong chunks. */
struct framed {
    char text[4096];
    size_t len;
};

static void record(struct framed *f, int kind, const unsigned char *p, size_t n)
{
    assert_true(f->len + n + 3 <= sizeof f->text);
    f->text[f->len++] = kind == LINEBUF_LINE ? 'L' : 'O';
    f->text[f->len++] = ':';
    memcpy(f->text + f->len, p, n);
    f->len += n;
    f->text[f->len++] = '|';
    f->text[f->len] = '\0';
}

/*
 * Feeds data in chunks of at most step bytes, the way linebuf.h says a
 * caller should, skipping the rest of overlong lines when skip is set.
 */
static void frame(struct linebuf *lb, const char *data, size_t len, size_t step,
                  int skip, struct framed *out)
{
    const unsigned char *p = (const unsigned char *)data;

    while (len > 0) {
        size_t chunk = len < step ? len : step;
        while (chunk > 0) {
            const unsigned char *line;
            size_t n;
            int r;
            size_t used = linebuf_feed(lb, p, chunk);
            p += used;
            len -= used;
            chunk -= used;
            while ((r = linebuf_next(lb, &line, &n)) != LINEBUF_NEED_MORE) {
                record(out, r, line, n);
                if (r == LINEBUF_OVERLONG && skip) {
                    linebuf_skip_line(lb);
                }
            }
        }
    }
}

static void test_linebuf_every_prefix_needs_more(void **state)
{
    static const char msg[] = "SOMA 2 2\r\n";
    unsigned char storage[64];
    struct linebuf lb;

    (void)state;
    for (size_t k = 0; k < sizeof msg - 1; k++) {
        const unsigned char *line = NULL;
        size_t n = 0;
        linebuf_init(&lb, storage, sizeof storage);
        assert_int_equal(linebuf_feed(&lb, msg, k), k);
        assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_NEED_MORE);
        assert_int_equal(linebuf_pending(&lb), k);
    }
    linebuf_init(&lb, storage, sizeof storage);
    linebuf_feed(&lb, msg, sizeof msg - 1);
    {
        const unsigned char *line = NULL;
        size_t n = 0;
        assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_LINE);
        assert_int_equal(n, sizeof msg - 1);
        assert_memory_equal(line, msg, n);
    }
}

static void test_linebuf_one_byte_at_a_time_equals_all_at_once(void **state)
{
    static const char input[] = "um\ndois\r\n\ntr\xc3\xaas\nabcdefghijklmnop"
                                "qrstuvwxyz\nfim";
    unsigned char storage[16];
    struct linebuf lb;
    struct framed whole = {.len = 0};
    struct framed bytes = {.len = 0};
    struct framed odd = {.len = 0};

    (void)state;
    linebuf_init(&lb, storage, sizeof storage);
    frame(&lb, input, sizeof input - 1, sizeof input, 0, &whole);
    assert_int_equal(linebuf_pending(&lb), 3);
    linebuf_init(&lb, storage, sizeof storage);
    frame(&lb, input, sizeof input - 1, 1, 0, &bytes);
    linebuf_init(&lb, storage, sizeof storage);
    frame(&lb, input, sizeof input - 1, 7, 0, &odd);
    assert_string_equal(whole.text, "L:um\n|L:dois\r\n|L:\n|L:tr\xc3\xaas\n|"
                                    "O:abcdefghijklmnop|L:qrstuvwxyz\n|");
    assert_string_equal(bytes.text, whole.text);
    assert_string_equal(odd.text, whole.text);
}

static void test_linebuf_two_lines_in_one_chunk(void **state)
{
    unsigned char storage[32];
    struct linebuf lb;
    const unsigned char *line;
    size_t n;

    (void)state;
    linebuf_init(&lb, storage, sizeof storage);
    assert_int_equal(linebuf_feed(&lb, "SOMA 1 2\nSUB 3 4\n", 17), 17);
    assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_LINE);
    assert_int_equal(n, 9);
    assert_memory_equal(line, "SOMA 1 2\n", 9);
    assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_LINE);
    assert_int_equal(n, 8);
    assert_memory_equal(line, "SUB 3 4\n", 8);
    assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_NEED_MORE);
}

static void test_linebuf_line_of_exactly_cap_bytes(void **state)
{
    unsigned char storage[4];
    struct linebuf lb;
    const unsigned char *line;
    size_t n;

    (void)state;
    linebuf_init(&lb, storage, sizeof storage);
    assert_int_equal(linebuf_feed(&lb, "abc\n", 4), 4);
    assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_LINE);
    assert_int_equal(n, 4);
}

static void test_linebuf_overlong_is_reported_never_truncated(void **state)
{
    unsigned char storage[8];
    struct linebuf lb;
    struct framed f = {.len = 0};
    const unsigned char *line;
    size_t n;

    (void)state;
    /* cap bytes without "\n": overlong, handed out whole, not cut. */
    linebuf_init(&lb, storage, sizeof storage);
    assert_int_equal(linebuf_feed(&lb, "abcdefghij\n", 11), 8);
    assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_OVERLONG);
    assert_int_equal(n, 8);
    assert_memory_equal(line, "abcdefgh", 8);

    /* Without skipping, the rest continues as chunks (echo-repr). */
    linebuf_init(&lb, storage, sizeof storage);
    frame(&lb, "abcdefghijklmnopqr\nok\n", 22, 5, 0, &f);
    assert_string_equal(f.text, "O:abcdefgh|O:ijklmnop|L:qr\n|L:ok\n|");
}

static void test_linebuf_skip_discards_rest_of_overlong_line(void **state)
{
    unsigned char storage[8];
    struct linebuf lb;
    struct framed all = {.len = 0};
    struct framed bytes = {.len = 0};
    static const char input[] = "0123456789abcdefghij\nok\n"
                                "01234567\nx\n";

    (void)state;
    /* The "\n" may come in the same chunk or many chunks later. */
    linebuf_init(&lb, storage, sizeof storage);
    frame(&lb, input, sizeof input - 1, sizeof input, 1, &all);
    assert_string_equal(all.text, "O:01234567|L:ok\n|O:01234567|L:x\n|");
    linebuf_init(&lb, storage, sizeof storage);
    frame(&lb, input, sizeof input - 1, 1, 1, &bytes);
    assert_string_equal(bytes.text, all.text);
}

static void test_linebuf_skip_line_with_newline_already_held(void **state)
{
    unsigned char storage[16];
    struct linebuf lb;
    const unsigned char *line;
    size_t n;

    (void)state;
    linebuf_init(&lb, storage, sizeof storage);
    linebuf_feed(&lb, "drop\nkeep\n", 10);
    linebuf_skip_line(&lb);
    assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_LINE);
    assert_memory_equal(line, "keep\n", 5);
}

static void test_linebuf_feed_takes_what_fits(void **state)
{
    unsigned char storage[4];
    struct linebuf lb;
    const unsigned char *line;
    size_t n;

    (void)state;
    linebuf_init(&lb, storage, sizeof storage);
    assert_int_equal(linebuf_feed(&lb, "ab\ncd\n", 6), 4);
    assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_LINE);
    assert_memory_equal(line, "ab\n", 3);
    assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_NEED_MORE);
    assert_int_equal(linebuf_feed(&lb, "d\n", 2), 2);
    assert_int_equal(linebuf_next(&lb, &line, &n), LINEBUF_LINE);
    assert_memory_equal(line, "cd\n", 3);
}

static void test_linebuf_crlf_is_stripped_by_strip_eol(void **state)
{
    (void)state;
    assert_int_equal(linebuf_strip_eol((const unsigned char *)"ab\r\n", 4), 2);
    assert_int_equal(linebuf_strip_eol((const unsigned char *)"ab\n", 3), 2);
    assert_int_equal(linebuf_strip_eol((const unsigned char *)"ab", 2), 2);
    assert_int_equal(linebuf_strip_eol((const unsigned char *)"\r\n", 2), 0);
    assert_int_equal(linebuf_strip_eol((const unsigned char *)"\n", 1), 0);
    /* A lone "\r" without "\n" is content, and only one "\r" goes. */
    assert_int_equal(linebuf_strip_eol((const unsigned char *)"ab\r", 3), 3);
    assert_int_equal(linebuf_strip_eol((const unsigned char *)"a\r\r\n", 4), 2);
}

static void test_linebuf_take_rest_at_eof(void **state)
{
    unsigned char storage[16];
    struct linebuf lb;
    const unsigned char *p;
    size_t n;

    (void)state;
    linebuf_init(&lb, storage, sizeof storage);
    assert_int_equal(linebuf_take_rest(&lb, &p, &n), 0);
    linebuf_feed(&lb, "a\nbc", 4);
    assert_int_equal(linebuf_next(&lb, &p, &n), LINEBUF_LINE);
    assert_memory_equal(p, "a\n", 2);
    assert_int_equal(linebuf_next(&lb, &p, &n), LINEBUF_NEED_MORE);
    assert_int_equal(linebuf_take_rest(&lb, &p, &n), 1);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "bc", 2);
    assert_int_equal(linebuf_take_rest(&lb, &p, &n), 0);
    assert_int_equal(linebuf_pending(&lb), 0);
}

static void test_linebuf_nothing_left_while_skipping(void **state)
{
    unsigned char storage[4];
    struct linebuf lb;
    const unsigned char *p;
    size_t n;

    (void)state;
    linebuf_init(&lb, storage, sizeof storage);
    linebuf_feed(&lb, "abcd", 4);
    assert_int_equal(linebuf_next(&lb, &p, &n), LINEBUF_OVERLONG);
    linebuf_skip_line(&lb);
    assert_int_equal(linebuf_feed(&lb, "efgh", 4), 4);
    assert_int_equal(linebuf_next(&lb, &p, &n), LINEBUF_NEED_MORE);
    assert_int_equal(linebuf_take_rest(&lb, &p, &n), 0);
}

static void test_linebuf_binary_bytes_pass_through(void **state)
{
    static const unsigned char msg[] = {0x00, 0xff, '\r', 0x7f, '\n'};
    unsigned char storage[8];
    struct linebuf lb;
    const unsigned char *p;
    size_t n;

    (void)state;
    linebuf_init(&lb, storage, sizeof storage);
    linebuf_feed(&lb, msg, sizeof msg);
    assert_int_equal(linebuf_next(&lb, &p, &n), LINEBUF_LINE);
    assert_int_equal(n, sizeof msg);
    assert_memory_equal(p, msg, sizeof msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linebuf_every_prefix_needs_more),
        cmocka_unit_test(test_linebuf_one_byte_at_a_time_equals_all_at_once),
        cmocka_unit_test(test_linebuf_two_lines_in_one_chunk),
        cmocka_unit_test(test_linebuf_line_of_exactly_cap_bytes),
        cmocka_unit_test(test_linebuf_overlong_is_reported_never_truncated),
        cmocka_unit_test(test_linebuf_skip_discards_rest_of_overlong_line),
        cmocka_unit_test(test_linebuf_skip_line_with_newline_already_held),
        cmocka_unit_test(test_linebuf_feed_takes_what_fits),
        cmocka_unit_test(test_linebuf_crlf_is_stripped_by_strip_eol),
        cmocka_unit_test(test_linebuf_take_rest_at_eof),
        cmocka_unit_test(test_linebuf_nothing_left_while_skipping),
        cmocka_unit_test(test_linebuf_binary_bytes_pass_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
