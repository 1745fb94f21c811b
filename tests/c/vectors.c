/*
 * One row per line, fields split on single TABs, '#' lines and blank lines
 * skipped; escapes \n \r \t \\ \xHH. Everything is loaded up front so a
 * test can report every failing row without juggling a FILE.
 */
#include "vectors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vectors_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

long vectors_unescape(char *dst, const char *src, size_t len)
{
    size_t i = 0;
    long n = 0;

    while (i < len) {
        int hi;
        int lo;

        if (src[i] != '\\') {
            dst[n++] = src[i++];
            continue;
        }
        if (i + 1 >= len) {
            return -1;
        }
        switch (src[i + 1]) {
        case 'n':
            dst[n++] = '\n';
            i += 2;
            break;
        case 'r':
            dst[n++] = '\r';
            i += 2;
            break;
        case 't':
            dst[n++] = '\t';
            i += 2;
            break;
        case '\\':
            dst[n++] = '\\';
            i += 2;
            break;
        case 'x':
            if (i + 3 >= len) {
                return -1;
            }
            hi = vectors_hexval(src[i + 2]);
            lo = vectors_hexval(src[i + 3]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            dst[n++] = (char)(hi << 4 | lo);
            i += 4;
            break;
        default:
            return -1;
        }
    }
    return n;
}

static int vectors_parse_line(struct vectors_row *row, const char *line,
                              size_t len, size_t nfields, char *err,
                              size_t errcap)
{
    size_t start = 0;
    size_t k = 0;

    for (;;) {
        const char *tab = memchr(line + start, '\t', len - start);
        size_t end = tab != NULL ? (size_t)(tab - line) : len;
        long n;

        if (k == nfields) {
            snprintf(err, errcap, "line %zu: more than %zu fields", row->lineno,
                     nfields);
            return -1;
        }
        row->field[k].data = malloc(end - start + 1);
        if (row->field[k].data == NULL) {
            snprintf(err, errcap, "line %zu: %s", row->lineno, strerror(errno));
            return -1;
        }
        n = vectors_unescape(row->field[k].data, line + start, end - start);
        if (n < 0) {
            snprintf(err, errcap, "line %zu field %zu: bad escape", row->lineno,
                     k + 1);
            free(row->field[k].data);
            row->field[k].data = NULL;
            return -1;
        }
        row->field[k].data[n] = '\0';
        row->field[k].len = (size_t)n;
        k++;
        if (tab == NULL) {
            break;
        }
        start = end + 1;
    }
    if (k != nfields) {
        snprintf(err, errcap, "line %zu: %zu fields, expected %zu", row->lineno,
                 k, nfields);
        return -1;
    }
    return 0;
}

static void vectors_free_row(struct vectors_row *row)
{
    size_t k;

    for (k = 0; k < VECTORS_FIELDS_MAX; k++) {
        free(row->field[k].data);
        row->field[k].data = NULL;
    }
}

int vectors_load(struct vectors *v, const char *path, size_t nfields, char *err,
                 size_t errcap)
{
    FILE *fp = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    size_t lineno = 0;
    size_t alloc = 0;
    int rc = -1;

    v->rows = NULL;
    v->nrows = 0;
    if (nfields == 0 || nfields > VECTORS_FIELDS_MAX) {
        snprintf(err, errcap, "%zu fields not supported", nfields);
        return -1;
    }
    fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((got = getline(&line, &cap, fp)) >= 0) {
        size_t len = (size_t)got;
        struct vectors_row *row;

        lineno++;
        if (len > 0 && line[len - 1] == '\n') {
            len--;
        }
        if (len == 0 || line[0] == '#') {
            continue;
        }
        if (v->nrows == alloc) {
            size_t n = alloc == 0 ? 64 : alloc * 2;
            struct vectors_row *p = realloc(v->rows, n * sizeof(*p));

            if (p == NULL) {
                snprintf(err, errcap, "%s", strerror(errno));
                goto out;
            }
            v->rows = p;
            alloc = n;
        }
        row = &v->rows[v->nrows];
        memset(row, 0, sizeof(*row));
        row->lineno = lineno;
        if (vectors_parse_line(row, line, len, nfields, err, errcap) < 0) {
            vectors_free_row(row);
            goto out;
        }
        v->nrows++;
    }
    if (ferror(fp)) {
        snprintf(err, errcap, "%s: read error", path);
        goto out;
    }
    rc = 0;
out:
    free(line);
    fclose(fp);
    if (rc < 0) {
        vectors_free(v);
    }
    return rc;
}

void vectors_free(struct vectors *v)
{
    size_t i;

    for (i = 0; i < v->nrows; i++) {
        vectors_free_row(&v->rows[i]);
    }
    free(v->rows);
    v->rows = NULL;
    v->nrows = 0;
}
