/*
 * num: checked number parsing.
 *
 * Each parser accepts the whole string or nothing: no leading spaces, no
 * trailing bytes. They return -1 with errno EINVAL (not a number) or
 * ERANGE (outside the allowed range). Parsing follows the C locale
 * (the programs never call setlocale), so the decimal point is '.'.
 */
#ifndef SL_NUM_H
#define SL_NUM_H

/*
 * Returns the port number s spells in decimal digits only, 1..65535, or
 * -1 with errno EINVAL (not all digits) or ERANGE (0 or above 65535).
 */
int num_parse_port(const char *s);

/*
 * Returns 0 and stores in *out the value of s, an optional sign and decimal
 * digits, if it lies in min..max, or -1 with errno EINVAL or ERANGE.
 */
int num_parse_long(const char *s, long min, long max, long *out);

/*
 * Returns 0 and stores in *out the finite value of s as strtod reads it
 * (inf and nan refused), or -1 with errno EINVAL or ERANGE (overflow or
 * underflow).
 */
int num_parse_double(const char *s, double *out);

#endif
