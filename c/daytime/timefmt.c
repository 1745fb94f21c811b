/*
 * Fixed tables instead of strftime(%a, %b): the names must be English and
 * C-locale whatever LANG says.
 */
#include "timefmt.h"

#include <stdio.h>

static const char *const timefmt_days[] = {"Sun", "Mon", "Tue", "Wed",
                                           "Thu", "Fri", "Sat"};

static const char *const timefmt_months[] = {"Jan", "Feb", "Mar", "Apr",
                                             "May", "Jun", "Jul", "Aug",
                                             "Sep", "Oct", "Nov", "Dec"};

/* Leap second 60 is allowed, as in struct tm. */
static int timefmt_check(const struct tm *tm)
{
    if (tm->tm_wday < 0 || tm->tm_wday > 6 || tm->tm_mon < 0 ||
        tm->tm_mon > 11 || tm->tm_mday < 1 || tm->tm_mday > 31 ||
        tm->tm_hour < 0 || tm->tm_hour > 23 || tm->tm_min < 0 ||
        tm->tm_min > 59 || tm->tm_sec < 0 || tm->tm_sec > 60 ||
        tm->tm_year > 2147483647 - 1900) {
        return -1;
    }
    return 0;
}

static int timefmt_result(int n, size_t cap)
{
    if (n < 0 || (size_t)n >= cap) {
        return -1;
    }
    return n;
}

int timefmt_ctime(char *out, size_t cap, const struct tm *tm)
{
    if (timefmt_check(tm) < 0) {
        return -1;
    }
    return timefmt_result(snprintf(out, cap, "%s %s %2d %02d:%02d:%02d %d",
                                   timefmt_days[tm->tm_wday],
                                   timefmt_months[tm->tm_mon], tm->tm_mday,
                                   tm->tm_hour, tm->tm_min, tm->tm_sec,
                                   tm->tm_year + 1900),
                          cap);
}

int timefmt_javadate(char *out, size_t cap, const struct tm *tm,
                     const char *zone)
{
    if (timefmt_check(tm) < 0) {
        return -1;
    }
    return timefmt_result(snprintf(out, cap, "%s %s %02d %02d:%02d:%02d %s %d",
                                   timefmt_days[tm->tm_wday],
                                   timefmt_months[tm->tm_mon], tm->tm_mday,
                                   tm->tm_hour, tm->tm_min, tm->tm_sec, zone,
                                   tm->tm_year + 1900),
                          cap);
}
