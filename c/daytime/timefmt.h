/*
 * timefmt: the two time strings the lessons put on the wire, written from a
 * struct tm with our own English name tables, so the locale never matters.
 * Pure: the caller chooses the clock and the time zone.
 */
#ifndef TIMEFMT_H
#define TIMEFMT_H

#include <stddef.h>
#include <time.h>

/* Length of a ctime text for years 1000..9999. */
#define TIMEFMT_CTIME_LEN 24

/* Room for either text with any int year and a zone of up to 15 bytes. */
#define TIMEFMT_MAX 64

/*
 * Returns the length written NUL-terminated into out (cap bytes) of tm as
 * Python's time.ctime() / C's asctime() without "\n", `Www Mmm dd hh:mm:ss
 * yyyy` with the day padded by a space, or -1 if a field of tm is out of
 * range or out is too small.
 */
int timefmt_ctime(char *out, size_t cap, const struct tm *tm);

/*
 * Returns the length written NUL-terminated into out (cap bytes) of tm as
 * Java's Date.toString(), `Www Mmm dd hh:mm:ss ZZZ yyyy` with the day padded
 * by a zero and zone as ZZZ, or -1 if a field of tm is out of range or out
 * is too small.
 */
int timefmt_javadate(char *out, size_t cap, const struct tm *tm,
                     const char *zone);

#endif /* TIMEFMT_H */
