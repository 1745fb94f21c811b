/*
 * Request evaluation for calc. The check order is part of the contract:
 * a line with several faults gets the reply of the first check it fails.
 */
#include "calc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALC_RANGE 1e15

#define CALC_ERR_OP    "ERRO operacao desconhecida"
#define CALC_ERR_ARGC  "ERRO numero de operandos"
#define CALC_ERR_NUM   "ERRO numero invalido"
#define CALC_ERR_RANGE "ERRO fora do intervalo"
#define CALC_ERR_DIV0  "ERRO divisao por zero"

enum calc_op { CALC_NONE, CALC_SOMA, CALC_SUB, CALC_MUL, CALC_DIV };

struct calc_field {
    const char *p;
    size_t len;
};

static size_t calc_reply(char *out, const char *text)
{
    size_t len = strlen(text);

    memcpy(out, text, len + 1);
    return len;
}

static enum calc_op calc_parse_op(const struct calc_field *f)
{
    static const struct {
        const char *name;
        enum calc_op op;
    } ops[] = {
        {"SOMA", CALC_SOMA},
        {"SUB", CALC_SUB},
        {"MUL", CALC_MUL},
        {"DIV", CALC_DIV},
    };
    size_t i;

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (f->len == strlen(ops[i].name) &&
            memcmp(f->p, ops[i].name, f->len) == 0) {
            return ops[i].op;
        }
    }
    return CALC_NONE;
}

static bool calc_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [+-]?[0-9]+(\.[0-9]+)? and nothing else: no exponent, inf or nan. */
static bool calc_valid_number(const struct calc_field *f)
{
    size_t i = 0;
    size_t start;

    if (i < f->len && (f->p[i] == '+' || f->p[i] == '-')) {
        i++;
    }
    start = i;
    while (i < f->len && calc_is_digit(f->p[i])) {
        i++;
    }
    if (i == start) {
        return false;
    }
    if (i == f->len) {
        return true;
    }
    if (f->p[i] != '.') {
        return false;
    }
    start = ++i;
    while (i < f->len && calc_is_digit(f->p[i])) {
        i++;
    }
    return i > start && i == f->len;
}

/*
 * The syntax is already checked, so strtod reads the whole field; the copy
 * gives it a terminator. The C locale is never changed by these programs,
 * so the decimal point is '.'. glibc's strtod rounds correctly, like
 * Python's float() and Java's Double.parseDouble.
 */
static double calc_to_double(const struct calc_field *f)
{
    char buf[CALC_LINE_MAX + 1];

    memcpy(buf, f->p, f->len);
    buf[f->len] = '\0';
    return strtod(buf, NULL);
}

/* "%.6f", then trailing zeros and a bare "." dropped, "-0" made "0". */
static size_t calc_format(char *out, double r)
{
    int n = snprintf(out, CALC_REPLY_MAX, "%.6f", r);
    size_t len = (size_t)n;

    while (len > 0 && out[len - 1] == '0') {
        len--;
    }
    if (len > 0 && out[len - 1] == '.') {
        len--;
    }
    out[len] = '\0';
    if (strcmp(out, "-0") == 0) {
        return calc_reply(out, "0");
    }
    return len;
}

size_t calc_eval(const char *line, size_t len, char *out)
{
    struct calc_field fields[3];
    size_t nfields = 0;
    enum calc_op op;
    double a;
    double b;
    double r;
    size_t i = 0;

    /*
     * The framing answers a long line before it ends; checking here too
     * keeps the codec total and in step with the shared vectors.
     */
    if (len >= CALC_LINE_MAX) {
        return calc_reply(out, CALC_ERR_LONG);
    }
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }

    /* Only 0x20 separates fields: a TAB is part of a field. */
    while (i < len) {
        size_t start;

        while (i < len && line[i] == ' ') {
            i++;
        }
        if (i == len) {
            break;
        }
        start = i;
        while (i < len && line[i] != ' ') {
            i++;
        }
        if (nfields < 3) {
            fields[nfields].p = line + start;
            fields[nfields].len = i - start;
        }
        nfields++;
    }

    if (nfields == 0) {
        return calc_reply(out, CALC_ERR_OP);
    }
    op = calc_parse_op(&fields[0]);
    if (op == CALC_NONE) {
        return calc_reply(out, CALC_ERR_OP);
    }
    if (nfields != 3) {
        return calc_reply(out, CALC_ERR_ARGC);
    }
    if (!calc_valid_number(&fields[1]) || !calc_valid_number(&fields[2])) {
        return calc_reply(out, CALC_ERR_NUM);
    }
    a = calc_to_double(&fields[1]);
    b = calc_to_double(&fields[2]);
    if (!(a > -CALC_RANGE && a < CALC_RANGE) ||
        !(b > -CALC_RANGE && b < CALC_RANGE)) {
        return calc_reply(out, CALC_ERR_RANGE);
    }

    switch (op) {
    case CALC_SOMA:
        r = a + b;
        break;
    case CALC_SUB:
        r = a - b;
        break;
    case CALC_MUL:
        r = a * b;
        break;
    case CALC_DIV:
    default:
        if (b == 0.0) {
            return calc_reply(out, CALC_ERR_DIV0);
        }
        r = a / b;
        break;
    }
    if (!(r > -CALC_RANGE && r < CALC_RANGE)) {
        return calc_reply(out, CALC_ERR_RANGE);
    }
    return calc_format(out, r);
}

static int calc_conn_reply(const unsigned char *line, size_t len,
                           struct io_buf *out)
{
    char reply[CALC_REPLY_MAX + 1];
    size_t n = calc_eval((const char *)line, len, reply);

    reply[n++] = '\n';
    return io_buf_append(out, reply, n);
}

void calc_conn_init(struct calc_conn *c)
{
    linebuf_init(&c->lb, c->storage, sizeof(c->storage));
}

int calc_conn_feed(struct calc_conn *c, const void *data, size_t len,
                   struct io_buf *out)
{
    const unsigned char *p = data;

    while (len > 0) {
        size_t used = linebuf_feed(&c->lb, p, len);
        const unsigned char *line;
        size_t n;
        int r;

        p += used;
        len -= used;
        while ((r = linebuf_next(&c->lb, &line, &n)) != LINEBUF_NEED_MORE) {
            if (r == LINEBUF_OVERLONG) {
                linebuf_skip_line(&c->lb);
                if (io_buf_append(out, CALC_ERR_LONG "\n",
                                  sizeof(CALC_ERR_LONG)) < 0) {
                    return -1;
                }
                continue;
            }
            /* calc_eval strips the "\r" itself: only one may go. */
            if (calc_conn_reply(line, n - 1, out) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int calc_conn_eof(struct calc_conn *c, struct io_buf *out)
{
    const unsigned char *rest;
    size_t n;

    if (!linebuf_take_rest(&c->lb, &rest, &n)) {
        return 0;
    }
    return calc_conn_reply(rest, n, out);
}
