/*
 * login: the seed 003 tasks as a pure state machine. The server frames
 * lines and feeds them here; the machine pairs them (user, then password),
 * judges the pair and says what to reply and what to log. No I/O.
 */
#ifndef LOGIN_H
#define LOGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "linebuf.h"

/* Longest user or password, in bytes. */
#define LOGIN_FIELD_MAX 64

/* Longest line, "\n" included; the rest of a longer line is discarded. */
#define LOGIN_LINE_MAX 256

/* Room for "<user>:<password>\n" and a NUL. */
#define LOGIN_LOG_MAX (2 * LOGIN_FIELD_MAX + 3)

#define LOGIN_LOG_FILE "log-acesso.txt"

struct login {
    bool have_user; /* the next line is the password */
    bool user_empty;
    bool user_invalid;
    size_t user_len;
    char user[LOGIN_FIELD_MAX];
};

enum login_status {
    LOGIN_MORE,  /* a user line was stored; the password follows */
    LOGIN_AGAIN, /* the pair was refused; a new pair follows */
    LOGIN_OK     /* the pair was accepted; log it, then close */
};

struct login_result {
    const char *reply; /* the whole reply line, "\n" included */
    size_t reply_len;
    char log[LOGIN_LOG_MAX]; /* "<user>:<password>\n" for LOGIN_OK */
    size_t log_len;          /* 0 unless LOGIN_OK */
};

/* Returns nothing; puts l in its initial state (expecting a user line). */
void login_init(struct login *l);

/*
 * Returns LOGIN_MORE after a user line, or after a password line LOGIN_AGAIN
 * (pair refused, res->reply says why) or LOGIN_OK (res->reply and res->log
 * set); line[0..len) is one line without its "\n" (a trailing "\r" is
 * ignored), or the first bytes of an overlong line, which is then invalid
 * as long as len > LOGIN_FIELD_MAX + 1.
 */
enum login_status login_feed(struct login *l, const char *line, size_t len,
                             struct login_result *res);

/*
 * The server's side of one connection: lines framed at LOGIN_LINE_MAX
 * bytes (the rest of a longer line dropped) fed to the machine. Use it like
 * a linebuf: feed bytes, then take verdicts with login_conn_next until it
 * says LOGIN_MORE, acting on each (log, then reply) before the next. At
 * EOF there is nothing more to do: a line is complete only with its "\n",
 * so a pair cut short by EOF is never judged. Embed it in the connection
 * state; it must not move after login_conn_init.
 */
struct login_conn {
    struct login st;
    struct linebuf lb;
    unsigned char storage[LOGIN_LINE_MAX];
};

/* Returns nothing; makes c ready for a new connection's first byte. */
void login_conn_init(struct login_conn *c);

/*
 * Returns how many of the len bytes at data were taken (fewer only when
 * verdicts are waiting: take them with login_conn_next, then feed the
 * rest).
 */
size_t login_conn_feed(struct login_conn *c, const void *data, size_t len);

/*
 * Returns the next verdict held input yields, LOGIN_AGAIN or LOGIN_OK with
 * res filled as login_feed does, or LOGIN_MORE when input runs out first.
 */
enum login_status login_conn_next(struct login_conn *c,
                                  struct login_result *res);

#endif /* LOGIN_H */
