/*
 * smtp client: reads a message description on stdin (From:, To: one or
 * more, Subject:, Attach: a file, an empty line, the body), builds an
 * RFC 5322 message (MIME multipart/mixed with the file in base64 when
 * there is an attachment), sends it with EHLO, MAIL FROM, RCPT TO, DATA
 * (dot-stuffed) and QUIT, and prints "delivered to N recipient(s)" once
 * the final "." is answered 250. Every reply is read whole (multi-line
 * "250-" replies included) before the next command.
 *
 * Slide: seed 004 (PMR3412 Aula 05): SMTP, the header ended by an empty
 * line, MIME, Base64 (RFC 4648).
 *
 * Run:  printf 'From: a@x\nTo: b@y\nSubject: hi\n\nHello\n' |
 *           build/c/smtp/client 127.0.0.1 2525
 */
#include "base64.h"
#include "io.h"
#include "linebuf.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Longest reply line we accept (RFC 5321 says 512; be generous). */
#define REPLY_LINE_MAX 2048

/* Largest stdin description and attachment we read. */
#define INPUT_MAX (4 * 1024 * 1024)

struct desc {
    char *from;
    char **to;
    size_t nto;
    char *subject;
    char *attach;
    const char *body; /* points into the stdin buffer */
    size_t body_len;
};

struct conn {
    int fd;
    const char *peer;
    struct linebuf lb;
    unsigned char storage[REPLY_LINE_MAX];
};

static char *dup_field(const char *p, size_t len)
{
    char *s = malloc(len + 1);

    if (s == NULL) {
        err(1, "malloc");
    }
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/*
 * Parses the description's header lines (up to the first empty line or
 * EOF) into d; the rest is the body. Exits 1 on a malformed description.
 */
static void parse_desc(const char *in, size_t len, struct desc *d)
{
    size_t i = 0;

    memset(d, 0, sizeof(*d));
    while (i < len) {
        const char *line = in + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - i;
        const char *colon;
        size_t name_len;
        const char *v;
        size_t vlen;

        i += n + (nl != NULL);
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            break;
        }
        colon = memchr(line, ':', n);
        if (colon == NULL) {
            errx(1, "message description: no ':' in \"%.*s\"", (int)n, line);
        }
        name_len = (size_t)(colon - line);
        v = colon + 1;
        vlen = n - name_len - 1;
        while (vlen > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
            vlen--;
        }
        if (name_len == 4 && strncasecmp(line, "From", 4) == 0) {
            if (d->from != NULL) {
                errx(1, "message description: more than one From:");
            }
            d->from = dup_field(v, vlen);
        } else if (name_len == 2 && strncasecmp(line, "To", 2) == 0) {
            char **to = realloc(d->to, (d->nto + 1) * sizeof(*to));

            if (to == NULL) {
                err(1, "realloc");
            }
            d->to = to;
            d->to[d->nto++] = dup_field(v, vlen);
        } else if (name_len == 7 && strncasecmp(line, "Subject", 7) == 0) {
            free(d->subject);
            d->subject = dup_field(v, vlen);
        } else if (name_len == 6 && strncasecmp(line, "Attach", 6) == 0) {
            free(d->attach);
            d->attach = dup_field(v, vlen);
        } else {
            errx(1, "message description: unknown field \"%.*s\"",
                 (int)name_len, line);
        }
    }
    if (d->from == NULL || d->nto == 0) {
        errx(1, "message description: needs From: and at least one To:");
    }
    d->body = in + i;
    d->body_len = len - i;
}

static void free_desc(struct desc *d)
{
    size_t i;

    for (i = 0; i < d->nto; i++) {
        free(d->to[i]);
    }
    free(d->to);
    free(d->from);
    free(d->subject);
    free(d->attach);
}

/* True when needle (NUL-terminated) occurs in p[0..len). */
static int contains(const char *p, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    size_t i;

    for (i = 0; i + n <= len; i++) {
        if (memcmp(p + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void put(struct io_buf *b, const void *p, size_t len)
{
    if (io_buf_append(b, p, len) < 0) {
        err(1, "building the message");
    }
}

static void puts_(struct io_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* The body text with every line end made CRLF, ending in CRLF. */
static void put_text(struct io_buf *b, const char *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        const char *nl = memchr(p + i, '\n', len - i);
        size_t n = nl != NULL ? (size_t)(nl - (p + i)) : len - i;
        size_t keep = n > 0 && p[i + n - 1] == '\r' ? n - 1 : n;

        put(b, p + i, keep);
        puts_(b, "\r\n");
        i += n + (nl != NULL);
    }
}

/* The file's base64 in 76-character CRLF lines (RFC 2045 6.8). */
static void put_base64(struct io_buf *b, const unsigned char *p, size_t len)
{
    char line[BASE64_MIME_LINE];
    size_t i;

    for (i = 0; i < len; i += 57) {
        size_t chunk = len - i < 57 ? len - i : 57;

        put(b, line, base64_encode(line, p + i, chunk));
        puts_(b, "\r\n");
    }
}

static void read_file(const char *path, struct io_buf *b)
{
    FILE *f = fopen(path, "rb");
    int r;

    if (f == NULL) {
        err(1, "attachment %s", path);
    }
    r = io_read_eof(fileno(f), b, INPUT_MAX);
    if (r < 0) {
        err(1, "attachment %s", path);
    }
    fclose(f);
}

/* Builds the whole message (CRLF lines, not yet dot-stuffed) into m. */
static void build_message(const struct desc *d, struct io_buf *m)
{
    char date[64];
    char boundary[64];
    time_t now = time(NULL);
    struct tm tm;
    size_t i;
    unsigned k = 0;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    puts_(m, "From: <");
    puts_(m, d->from);
    puts_(m, ">\r\nTo: ");
    for (i = 0; i < d->nto; i++) {
        puts_(m, i > 0 ? ", <" : "<");
        puts_(m, d->to[i]);
        puts_(m, ">");
    }
    puts_(m, "\r\nSubject: ");
    puts_(m, d->subject != NULL ? d->subject : "");
    puts_(m, "\r\nDate: ");
    puts_(m, date);
    puts_(m, "\r\nMIME-Version: 1.0\r\n");
    if (d->attach == NULL) {
        puts_(m, "Content-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\n");
        put_text(m, d->body, d->body_len);
        return;
    }
    /* A boundary the text does not contain (base64 never has "_"). */
    do {
        snprintf(boundary, sizeof(boundary), "=_lesson_%u", k++);
    } while (contains(d->body, d->body_len, boundary));

    {
        struct io_buf file = {0};
        const char *slash = strrchr(d->attach, '/');
        const char *fname = slash != NULL ? slash + 1 : d->attach;

        read_file(d->attach, &file);
        puts_(m, "Content-Type: multipart/mixed; boundary=\"");
        puts_(m, boundary);
        puts_(m, "\"\r\n\r\nThis is a MIME message.\r\n--");
        puts_(m, boundary);
        puts_(m, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\n");
        put_text(m, d->body, d->body_len);
        /* The CRLF before a boundary belongs to the boundary (RFC 2046). */
        puts_(m, "\r\n--");
        puts_(m, boundary);
        puts_(m, "\r\nContent-Type: application/octet-stream; name=\"");
        puts_(m, fname);
        puts_(m, "\"\r\nContent-Disposition: attachment; filename=\"");
        puts_(m, fname);
        puts_(m, "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        put_base64(m, file.data, file.len);
        puts_(m, "--");
        puts_(m, boundary);
        puts_(m, "--\r\n");
        io_buf_free(&file);
    }
}

/* The message dot-stuffed (RFC 5321 4.5.2), then the final ".". */
static void stuff(const struct io_buf *m, struct io_buf *out)
{
    size_t i = 0;

    while (i < m->len) {
        const unsigned char *nl = memchr(m->data + i, '\n', m->len - i);
        size_t n = nl != NULL ? (size_t)(nl - (m->data + i)) + 1 : m->len - i;

        if (m->data[i] == '.') {
            puts_(out, ".");
        }
        put(out, m->data + i, n);
        i += n;
    }
    puts_(out, ".\r\n");
}

/*
 * Reads one whole reply (every "NNN-" line up to the "NNN " one) and
 * returns its code; the last line, CRLF stripped, goes to last.
 */
static int read_reply(struct conn *c, char *last, size_t lastcap)
{
    for (;;) {
        const unsigned char *line;
        size_t len;
        int r;

        while ((r = linebuf_next(&c->lb, &line, &len)) == LINEBUF_NEED_MORE) {
            unsigned char buf[REPLY_LINE_MAX];
            ssize_t n =
                io_read_some(c->fd, buf, sizeof(buf) - linebuf_pending(&c->lb));

            if (n < 0) {
                err(1, "receiving from %s", c->peer);
            }
            if (n == 0) {
                errx(1, "%s closed the connection before a full reply",
                     c->peer);
            }
            linebuf_feed(&c->lb, buf, (size_t)n);
        }
        if (r == LINEBUF_OVERLONG) {
            errx(1, "reply line from %s longer than %d bytes", c->peer,
                 REPLY_LINE_MAX);
        }
        len = linebuf_strip_eol(line, len);
        if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
            line[1] > '9' || line[2] < '0' || line[2] > '9' ||
            (len > 3 && line[3] != ' ' && line[3] != '-')) {
            errx(1, "malformed reply from %s: \"%.*s\"", c->peer, (int)len,
                 line);
        }
        if (len == 3 || line[3] == ' ') {
            snprintf(last, lastcap, "%.*s", (int)len, line);
            return (line[0] - '0') * 100 + (line[1] - '0') * 10 +
                   (line[2] - '0');
        }
    }
}

/* Sends what (may be NULL: just read), then expects reply code want. */
static void step(struct conn *c, const char *what, size_t len, int want,
                 const char *label)
{
    char last[REPLY_LINE_MAX + 1];
    int code;

    if (what != NULL && io_write_all(c->fd, what, len) < 0) {
        err(1, "sending to %s", c->peer);
    }
    code = read_reply(c, last, sizeof(last));
    if (code != want) {
        errx(1, "server refused %s: %s", label, last);
    }
}

/* Sends verb<addr> (e.g. "RCPT TO:<bob@x>") and expects want. */
static void command(struct conn *c, const char *verb, const char *addr,
                    int want)
{
    char label[1024];
    char line[1026];
    int n = snprintf(label, sizeof(label), "%s<%s>", verb, addr);

    if (n < 0 || (size_t)n >= sizeof(label)) {
        errx(1, "address too long: %s", addr);
    }
    snprintf(line, sizeof(line), "%s\r\n", label);
    step(c, line, (size_t)n + 2, want, label);
}

int main(int argc, char *argv[])
{
    struct io_buf in = {0};
    struct io_buf msg = {0};
    struct io_buf wire = {0};
    struct desc d;
    struct conn c;
    char peer[NET_ADDRSTRLEN + 16];
    char line[1024];
    char errbuf[512];
    size_t i;
    int port;

    if (argc != 3 || (port = num_parse_port(argv[2])) < 0) {
        fprintf(stderr, "usage: client HOST PORT   (PORT is 1..65535)\n");
        return 2;
    }
    snprintf(peer, sizeof(peer), "%s:%d", argv[1], port);
    signal(SIGPIPE, SIG_IGN);
    if (io_read_eof(STDIN_FILENO, &in, INPUT_MAX) < 0) {
        err(1, "reading stdin");
    }
    parse_desc((const char *)in.data, in.len, &d);
    build_message(&d, &msg);
    stuff(&msg, &wire);

    c.peer = peer;
    c.fd = net_connect(argv[1], port, SOCK_STREAM, errbuf, sizeof(errbuf));
    if (c.fd < 0) {
        errx(1, "%s", errbuf);
    }
    linebuf_init(&c.lb, c.storage, sizeof(c.storage));

    step(&c, NULL, 0, 220, "the connection");
    step(&c, "EHLO client.lesson\r\n", 20, 250, "EHLO");
    command(&c, "MAIL FROM:", d.from, 250);
    for (i = 0; i < d.nto; i++) {
        command(&c, "RCPT TO:", d.to[i], 250);
    }
    step(&c, "DATA\r\n", 6, 354, "DATA");
    step(&c, (const char *)wire.data, wire.len, 250, "the message");
    printf("delivered to %zu recipient(s)\n", d.nto);
    if (fflush(stdout) == EOF) {
        err(1, "writing stdout");
    }
    step(&c, "QUIT\r\n", 6, 221, "QUIT");
    /* The server closes after 221: wait for its EOF. */
    while (io_read_some(c.fd, line, sizeof(line)) > 0) {
        continue;
    }
    close(c.fd);
    free_desc(&d);
    io_buf_free(&in);
    io_buf_free(&msg);
    io_buf_free(&wire);
    return 0;
}
