/* num: checked number parsing (see num.h). */
#include "num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int num_parse_port(const char *s)
{
    long v = 0;

    if (s == NULL || *s == '\0') {
        errno = EINVAL;
        return -1;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            errno = EINVAL;
            return -1;
        }
        /* Keep counting past the range so "99999999999" is ERANGE. */
        if (v <= 65535) {
            v = v * 10 + (*p - '0');
        }
    }
    if (v < 1 || v > 65535) {
        errno = ERANGE;
        return -1;
    }
    return (int)v;
}

int num_parse_long(const char *s, long min, long max, long *out)
{
    const char *digits = s;
    char *end = NULL;
    long v;

    if (s == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (*digits == '+' || *digits == '-') {
        digits++;
    }
    /* strtol would skip leading spaces and accept "0x"; we want digits. */
    if (*digits < '0' || *digits > '9') {
        errno = EINVAL;
        return -1;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0') {
        errno = EINVAL;
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
}

int num_parse_double(const char *s, double *out)
{
    char *end = NULL;
    double v;

    if (s == NULL || *s == '\0' || *s == ' ' || (*s >= '\t' && *s <= '\r')) {
        errno = EINVAL;
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0') {
        errno = EINVAL;
        return -1;
    }
    if (!isfinite(v)) {
        /* strtod spells out "inf" and "nan"; overflow also lands here. */
        errno = errno == ERANGE ? ERANGE : EINVAL;
        return -1;
    }
    if (errno == ERANGE) {
        return -1;
    }
    *out = v;
    return 0;
}
