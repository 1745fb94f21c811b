/*
 * login codec: every row of protocols/login/vectors.tsv as a pair fed to
 * the state machine, then the pairing itself (ask again after a refusal,
 * lines longer than the framing allows).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "login.h"
#include "vectors.h"

/* argv[1] overrides the shared file the build points at. */
static const char *vectors_path = SL_SOURCE_DIR "/protocols/login/vectors.tsv";

static enum login_status feed(struct login *l, const char *s,
                              struct login_result *res)
{
    return login_feed(l, s, strlen(s), res);
}

static void test_login_vectors(void **state)
{
    struct vectors v;
    char err[256];
    size_t i;
    size_t bad = 0;

    (void)state;
    if (vectors_load(&v, vectors_path, 4, err, sizeof(err)) < 0) {
        fail_msg("%s: %s", vectors_path, err);
    }
    assert_true(v.nrows > 0);
    for (i = 0; i < v.nrows; i++) {
        const struct vectors_row *r = &v.rows[i];
        const struct vectors_field *want_reply = &r->field[2];
        const struct vectors_field *want_log = &r->field[3];
        struct login l;
        struct login_result res;
        enum login_status st;
        bool ok;

        login_init(&l);
        st = login_feed(&l, r->field[0].data, r->field[0].len, &res);
        if (st != LOGIN_MORE) {
            print_error("line %zu: user line gave %d\n", r->lineno, st);
            bad++;
            continue;
        }
        st = login_feed(&l, r->field[1].data, r->field[1].len, &res);
        /* The vectors leave the "\n" off both the reply and the log. */
        ok = st == (want_log->len > 0 ? LOGIN_OK : LOGIN_AGAIN) &&
             res.reply_len == want_reply->len + 1 &&
             memcmp(res.reply, want_reply->data, want_reply->len) == 0 &&
             res.reply[want_reply->len] == '\n' &&
             (want_log->len == 0
                  ? res.log_len == 0
                  : res.log_len == want_log->len + 1 &&
                        memcmp(res.log, want_log->data, want_log->len) == 0 &&
                        res.log[want_log->len] == '\n');
        if (!ok) {
            print_error("line %zu: status %d reply \"%.*s\" log \"%.*s\"\n",
                        r->lineno, st, (int)res.reply_len, res.reply,
                        (int)res.log_len, res.log);
            bad++;
        }
    }
    vectors_free(&v);
    assert_int_equal(bad, 0);
}

static void test_login_ok_pair(void **state)
{
    struct login l;
    struct login_result res;

    (void)state;
    login_init(&l);
    assert_int_equal(feed(&l, "alice", &res), LOGIN_MORE);
    assert_null(res.reply);
    assert_int_equal(res.log_len, 0);
    assert_int_equal(feed(&l, "s3cret", &res), LOGIN_OK);
    assert_string_equal(res.reply, "OK\n");
    assert_int_equal(res.reply_len, 3);
    assert_string_equal(res.log, "alice:s3cret\n");
    assert_int_equal(res.log_len, 13);
}

/* After a refusal the next line is a user again, not a password. */
static void test_login_ask_again(void **state)
{
    struct login l;
    struct login_result res;

    (void)state;
    login_init(&l);
    assert_int_equal(feed(&l, "alice", &res), LOGIN_MORE);
    assert_int_equal(feed(&l, "", &res), LOGIN_AGAIN);
    assert_string_equal(res.reply, "ERRO usuario ou senha vazio\n");
    assert_int_equal(res.log_len, 0);
    assert_int_equal(feed(&l, "a:b", &res), LOGIN_MORE);
    assert_int_equal(feed(&l, "x", &res), LOGIN_AGAIN);
    assert_string_equal(res.reply, "ERRO usuario ou senha invalido\n");
    assert_int_equal(feed(&l, "bob", &res), LOGIN_MORE);
    assert_int_equal(feed(&l, "pw", &res), LOGIN_OK);
    assert_string_equal(res.log, "bob:pw\n");
}

/* A valid user stored, then an invalid one: the first must not leak. */
static void test_login_state_reset(void **state)
{
    struct login l;
    struct login_result res;

    (void)state;
    login_init(&l);
    assert_int_equal(feed(&l, "longusername", &res), LOGIN_MORE);
    assert_int_equal(feed(&l, "\x01", &res), LOGIN_AGAIN);
    assert_int_equal(feed(&l, "bo", &res), LOGIN_MORE);
    assert_int_equal(feed(&l, "p", &res), LOGIN_OK);
    assert_string_equal(res.log, "bo:p\n");
}

/* The server hands over the first LOGIN_LINE_MAX bytes of a long line. */
static void test_login_overlong_chunk(void **state)
{
    char chunk[LOGIN_LINE_MAX];
    struct login l;
    struct login_result res;

    (void)state;
    memset(chunk, 'x', sizeof(chunk));
    login_init(&l);
    assert_int_equal(login_feed(&l, chunk, sizeof(chunk), &res), LOGIN_MORE);
    assert_int_equal(feed(&l, "pw", &res), LOGIN_AGAIN);
    assert_string_equal(res.reply, "ERRO usuario ou senha invalido\n");
    assert_int_equal(feed(&l, "u", &res), LOGIN_MORE);
    chunk[sizeof(chunk) - 1] = '\r';
    assert_int_equal(login_feed(&l, chunk, sizeof(chunk), &res), LOGIN_AGAIN);
    assert_string_equal(res.reply, "ERRO usuario ou senha invalido\n");
}

static void test_login_limits(void **state)
{
    char field[LOGIN_FIELD_MAX + 2];
    char want[LOGIN_LOG_MAX];
    struct login l;
    struct login_result res;

    (void)state;
    memset(field, 'u', LOGIN_FIELD_MAX);
    field[LOGIN_FIELD_MAX] = '\r';
    login_init(&l);
    assert_int_equal(login_feed(&l, field, LOGIN_FIELD_MAX + 1, &res),
                     LOGIN_MORE);
    memset(field, 'p', LOGIN_FIELD_MAX);
    assert_int_equal(login_feed(&l, field, LOGIN_FIELD_MAX, &res), LOGIN_OK);
    memset(want, 'u', LOGIN_FIELD_MAX);
    want[LOGIN_FIELD_MAX] = ':';
    memset(want + LOGIN_FIELD_MAX + 1, 'p', LOGIN_FIELD_MAX);
    memcpy(want + 2 * LOGIN_FIELD_MAX + 1, "\n", 2);
    assert_int_equal(res.log_len, LOGIN_LOG_MAX - 1);
    assert_string_equal(res.log, want);
}

/*
 * Feeds in in chunks of step bytes as the server does (verdicts taken
 * after each feed, nothing after OK); writes replies, then the log, into
 * got.
 */
static size_t run_conn(const char *in, size_t len, size_t step, char *got,
                       size_t cap)
{
    struct login_conn c;
    struct login_result res;
    enum login_status st = LOGIN_MORE;
    char log[4 * LOGIN_LOG_MAX] = "";
    size_t off = 0;
    size_t n = 0;

    login_conn_init(&c);
    while (off < len && st != LOGIN_OK) {
        size_t chunk = len - off < step ? len - off : step;
        size_t used = 0;

        while (used < chunk && st != LOGIN_OK) {
            used += login_conn_feed(&c, in + off + used, chunk - used);
            while ((st = login_conn_next(&c, &res)) != LOGIN_MORE) {
                assert_true(n + res.reply_len < cap);
                memcpy(got + n, res.reply, res.reply_len);
                n += res.reply_len;
                if (st == LOGIN_OK) {
                    strcat(log, res.log);
                    break;
                }
            }
        }
        off += chunk;
    }
    assert_true(n + strlen(log) + 1 < cap);
    memcpy(got + n, log, strlen(log) + 1);
    return n + strlen(log);
}

static void expect_wire(const char *in, const char *want)
{
    size_t len = strlen(in);
    size_t step;

    for (step = 1; step <= len + 1; step++) {
        char got[4096];

        run_conn(in, len, step, got, sizeof(got));
        if (strcmp(got, want) != 0) {
            fail_msg("step %zu: got \"%s\", want \"%s\"", step, got, want);
        }
    }
}

static void test_login_framing_pairs(void **state)
{
    (void)state;
    expect_wire("alice\ns3cret\n", "OK\nalice:s3cret\n");
    expect_wire("alice\r\ns3cret\r\n", "OK\nalice:s3cret\n");
    expect_wire("alice\n\nalice\ns3cret\n",
                "ERRO usuario ou senha vazio\nOK\nalice:s3cret\n");
    /* Nothing after OK is read as a pair. */
    expect_wire("a\nb\nc\n\n", "OK\na:b\n");
}

static void test_login_framing_eof(void **state)
{
    (void)state;
    expect_wire("alice\n", "");
    expect_wire("", "");
    expect_wire("alice", "");
    /* A line is complete only with its "\n": EOF judges nothing. */
    expect_wire("alice\ns3cret", "");
    expect_wire("a:b\nx", "");
    expect_wire("a:b\nx\nalice\n", "ERRO usuario ou senha invalido\n");
}

/* A line over 256 bytes is invalid; its rest is not a next line. */
static void test_login_framing_overlong(void **state)
{
    char in[1024];
    size_t n = 0;

    (void)state;
    memset(in, 'u', 600);
    n = 600;
    memcpy(in + n, "\npw\nalice\ns3cret\n", 18);
    in[n + 18] = '\0';
    expect_wire(in, "ERRO usuario ou senha invalido\nOK\nalice:s3cret\n");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_vectors),
        cmocka_unit_test(test_login_ok_pair),
        cmocka_unit_test(test_login_ask_again),
        cmocka_unit_test(test_login_state_reset),
        cmocka_unit_test(test_login_overlong_chunk),
        cmocka_unit_test(test_login_limits),
        cmocka_unit_test(test_login_framing_pairs),
        cmocka_unit_test(test_login_framing_eof),
        cmocka_unit_test(test_login_framing_overlong),
    };

    if (argc > 1) {
        vectors_path = argv[1];
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
