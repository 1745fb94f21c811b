/*
 * timefmt: ctime and Java Date.toString() texts from fixed struct tm
 * values, checked against what Python's time.ctime() and Java print, and
 * independent of the locale.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <locale.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "timefmt.h"

static struct tm make_tm(int year, int mon, int mday, int hour, int min,
                         int sec, int wday)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    tm.tm_wday = wday;
    return tm;
}

static void test_timefmt_ctime_space_padded_day(void **state)
{
    struct tm tm = make_tm(2026, 11, 2, 3, 49, 5, 1);
    char out[TIMEFMT_MAX];

    (void)state;
    assert_int_equal(timefmt_ctime(out, sizeof(out), &tm), 24);
    assert_string_equal(out, "Mon Nov  2 03:49:05 2026");
}

static void test_timefmt_ctime_two_digit_day(void **state)
{
    struct tm tm = make_tm(1999, 12, 31, 23, 59, 59, 5);
    char out[TIMEFMT_MAX];

    (void)state;
    assert_int_equal(timefmt_ctime(out, sizeof(out), &tm), TIMEFMT_CTIME_LEN);
    assert_string_equal(out, "Fri Dec 31 23:59:59 1999");
}

static void test_timefmt_javadate_zero_padded_day(void **state)
{
    struct tm tm = make_tm(2026, 11, 2, 3, 49, 5, 1);
    char out[TIMEFMT_MAX];

    (void)state;
    assert_int_equal(timefmt_javadate(out, sizeof(out), &tm, "UTC"), 28);
    assert_string_equal(out, "Mon Nov 02 03:49:05 UTC 2026");
    assert_int_equal(timefmt_javadate(out, sizeof(out), &tm, "BRT"), 28);
    assert_string_equal(out, "Mon Nov 02 03:49:05 BRT 2026");
}

/* The same text as the C library under a plain C locale, for a year. */
static void test_timefmt_matches_asctime(void **state)
{
    time_t t;

    (void)state;
    for (t = 0; t < 366 * 86400; t += 86400 / 4 + 7) {
        struct tm tm;
        char want[64];
        char out[TIMEFMT_MAX];

        gmtime_r(&t, &tm);
        asctime_r(&tm, want);
        want[strcspn(want, "\n")] = '\0';
        assert_int_equal(timefmt_ctime(out, sizeof(out), &tm),
                         (int)strlen(want));
        assert_string_equal(out, want);
    }
}

static void test_timefmt_every_name(void **state)
{
    static const char *const want[] = {
        "Sun Jan 05", "Mon Feb 06", "Tue Mar 07", "Wed Apr 08",
        "Thu May 09", "Fri Jun 10", "Sat Jul 11", "Sun Aug 12",
        "Mon Sep 13", "Tue Oct 14", "Wed Nov 15", "Thu Dec 16",
    };
    char out[TIMEFMT_MAX];
    int i;

    (void)state;
    for (i = 0; i < 12; i++) {
        struct tm tm = make_tm(2000, i + 1, i + 5, 0, 0, 0, i % 7);

        assert_true(timefmt_javadate(out, sizeof(out), &tm, "UTC") > 0);
        assert_memory_equal(out, want[i], 10);
    }
}

/* Whatever locale the process runs in, the names stay English. */
static void test_timefmt_locale_independent(void **state)
{
    struct tm tm = make_tm(2024, 2, 29, 12, 0, 0, 4);
    char out[TIMEFMT_MAX];

    (void)state;
    if (setlocale(LC_ALL, "pt_BR.UTF-8") == NULL) {
        setlocale(LC_ALL, "C.UTF-8");
    }
    assert_int_equal(timefmt_ctime(out, sizeof(out), &tm), 24);
    assert_string_equal(out, "Thu Feb 29 12:00:00 2024");
    setlocale(LC_ALL, "C");
}

static void test_timefmt_rejects_bad_fields(void **state)
{
    struct tm tm = make_tm(2026, 1, 1, 0, 0, 0, 4);
    char out[TIMEFMT_MAX];

    (void)state;
    tm.tm_wday = 7;
    assert_int_equal(timefmt_ctime(out, sizeof(out), &tm), -1);
    tm.tm_wday = 4;
    tm.tm_mon = 12;
    assert_int_equal(timefmt_javadate(out, sizeof(out), &tm, "UTC"), -1);
    tm.tm_mon = -1;
    assert_int_equal(timefmt_ctime(out, sizeof(out), &tm), -1);
    tm.tm_mon = 0;
    tm.tm_sec = 61;
    assert_int_equal(timefmt_ctime(out, sizeof(out), &tm), -1);
    tm.tm_sec = 60;
    assert_int_equal(timefmt_ctime(out, sizeof(out), &tm), 24);
}

static void test_timefmt_small_buffer(void **state)
{
    struct tm tm = make_tm(2026, 1, 1, 0, 0, 0, 4);
    char out[TIMEFMT_CTIME_LEN + 1];

    (void)state;
    assert_int_equal(timefmt_ctime(out, TIMEFMT_CTIME_LEN, &tm), -1);
    assert_int_equal(timefmt_ctime(out, sizeof(out), &tm), 24);
    assert_int_equal(timefmt_javadate(out, sizeof(out), &tm, "UTC"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timefmt_ctime_space_padded_day),
        cmocka_unit_test(test_timefmt_ctime_two_digit_day),
        cmocka_unit_test(test_timefmt_javadate_zero_padded_day),
        cmocka_unit_test(test_timefmt_matches_asctime),
        cmocka_unit_test(test_timefmt_every_name),
        cmocka_unit_test(test_timefmt_locale_independent),
        cmocka_unit_test(test_timefmt_rejects_bad_fields),
        cmocka_unit_test(test_timefmt_small_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
