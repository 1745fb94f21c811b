/* Unit tests for c/common/num: checked number parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>

#include "num.h"

static void expect_port_error(const char *s, int err)
{
    errno = 0;
    assert_int_equal(num_parse_port(s), -1);
    assert_int_equal(errno, err);
}

static void test_num_port_accepts_1_to_65535(void **state)
{
    (void)state;
    assert_int_equal(num_parse_port("1"), 1);
    assert_int_equal(num_parse_port("5050"), 5050);
    assert_int_equal(num_parse_port("65535"), 65535);
    assert_int_equal(num_parse_port("08080"), 8080);
}

static void test_num_port_out_of_range_is_erange(void **state)
{
    (void)state;
    expect_port_error("0", ERANGE);
    expect_port_error("65536", ERANGE);
    expect_port_error("99999999999999999999999", ERANGE);
}

static void test_num_port_not_digits_is_einval(void **state)
{
    (void)state;
    expect_port_error(NULL, EINVAL);
    expect_port_error("", EINVAL);
    expect_port_error(" 80", EINVAL);
    expect_port_error("80 ", EINVAL);
    expect_port_error("+80", EINVAL);
    expect_port_error("-1", EINVAL);
    expect_port_error("8o", EINVAL);
    expect_port_error("0x50", EINVAL);
}

static void test_num_long_in_range(void **state)
{
    long v = 0;

    (void)state;
    assert_int_equal(num_parse_long("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(num_parse_long("+7", -10, 10, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(num_parse_long("0", 0, 0, &v), 0);
    assert_int_equal(v, 0);
}

static void test_num_long_errors(void **state)
{
    long v = 42;

    (void)state;
    errno = 0;
    assert_int_equal(num_parse_long("11", -10, 10, &v), -1);
    assert_int_equal(errno, ERANGE);
    errno = 0;
    assert_int_equal(
        num_parse_long("9223372036854775808", LONG_MIN, LONG_MAX, &v), -1);
    assert_int_equal(errno, ERANGE);
    static const char *bad[] = {"",  " 1", "1 ",  "12x", "0x10",
                                "+", "-",  "--1", "1.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_int_equal(num_parse_long(bad[i], LONG_MIN, LONG_MAX, &v), -1);
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(v, 42);
}

static void test_num_double_finite_values(void **state)
{
    double v = 0;

    (void)state;
    assert_int_equal(num_parse_double("1.5", &v), 0);
    assert_true(v == 1.5);
    assert_int_equal(num_parse_double("-0.25", &v), 0);
    assert_true(v == -0.25);
    assert_int_equal(num_parse_double("1e3", &v), 0);
    assert_true(v == 1000.0);
    assert_int_equal(num_parse_double("+2", &v), 0);
    assert_true(v == 2.0);
}

static void test_num_double_errors(void **state)
{
    static const char *invalid[] = {"",    " 1",   "1 ",  "1.5x",     "inf",
                                    "nan", "-inf", "abc", "infinity", "."};
    double v = 7.0;

    (void)state;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        errno = 0;
        assert_int_equal(num_parse_double(invalid[i], &v), -1);
        assert_int_equal(errno, EINVAL);
    }
    errno = 0;
    assert_int_equal(num_parse_double("1e999", &v), -1);
    assert_int_equal(errno, ERANGE);
    errno = 0;
    assert_int_equal(num_parse_double("1e-400", &v), -1);
    assert_int_equal(errno, ERANGE);
    assert_true(v == 7.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_port_accepts_1_to_65535),
        cmocka_unit_test(test_num_port_out_of_range_is_erange),
        cmocka_unit_test(test_num_port_not_digits_is_einval),
        cmocka_unit_test(test_num_long_in_range),
        cmocka_unit_test(test_num_long_errors),
        cmocka_unit_test(test_num_double_finite_values),
        cmocka_unit_test(test_num_double_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
