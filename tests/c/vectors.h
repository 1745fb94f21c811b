/*
 * vectors: reader for protocols/<id>/vectors.tsv (format in
 * protocols/README.md, "Vectors"), shared by every C codec test so one
 * decoder defines what the escapes mean.
 */
#ifndef VECTORS_H
#define VECTORS_H

#include <stddef.h>

#define VECTORS_FIELDS_MAX 8

struct vectors_field {
    char *data; /* decoded bytes, NUL-terminated for convenience */
    size_t len; /* decoded length (data may hold NUL bytes) */
};

struct vectors_row {
    size_t lineno; /* 1-based line in the file, for messages */
    struct vectors_field field[VECTORS_FIELDS_MAX];
};

struct vectors {
    struct vectors_row *rows;
    size_t nrows;
};

/*
 * Returns 0 with every data row of path decoded into v, each with exactly
 * nfields fields, or -1 (v left empty) after writing the reason, with the
 * line number, into err (errcap bytes).
 */
int vectors_load(struct vectors *v, const char *path, size_t nfields, char *err,
                 size_t errcap);

/*
 * Returns the number of bytes decoded from the escaped text src[0..len)
 * into dst (which needs len bytes), or -1 on an unknown or truncated
 * escape.
 */
long vectors_unescape(char *dst, const char *src, size_t len);

/* Returns nothing; frees what vectors_load allocated and empties v. */
void vectors_free(struct vectors *v);

#endif /* VECTORS_H */
