/*
 * smtp: the server side of protocols/smtp/README.md as a pure state
 * machine. The server feeds the bytes a client sends; the machine frames
 * lines, parses commands, keeps the session state (greeted, in a
 * transaction, in DATA) and says what to reply and, at the final ".", the
 * mailbox file to write. No I/O; it allocates only the message buffer.
 */
#ifndef SMTP_H
#define SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "io.h"
#include "linebuf.h"

/* Longest command line, CRLF included (RFC 5321 4.5.3.1.4). */
#define SMTP_CMD_MAX 512

/* Longest mail data line, CRLF included (RFC 5321 4.5.3.1.6). */
#define SMTP_DATA_LINE_MAX 1000

/* Largest message (data after unstuffing, CRLFs included), as in SIZE. */
#define SMTP_SIZE_MAX 1048576

/* Most RCPT TO per transaction. */
#define SMTP_RCPT_MAX 100

/* Longest path between "<" and ">". */
#define SMTP_PATH_MAX 254

/* The server's name in every reply (fixed so servers compare). */
#define SMTP_SERVER_NAME "lesson.example"

#define SMTP_MAILBOX_DIR "mailbox"

enum smtp_state {
    SMTP_S_INIT,  /* before HELO/EHLO */
    SMTP_S_READY, /* greeted, no transaction */
    SMTP_S_MAIL,  /* MAIL accepted, no RCPT yet */
    SMTP_S_RCPT,  /* at least one RCPT */
    SMTP_S_DATA   /* reading mail data */
};

/* Fields are private; the struct is public so callers can embed it. */
struct smtp_session {
    enum smtp_state state;
    struct linebuf lb;
    unsigned char storage[SMTP_DATA_LINE_MAX];
    struct io_buf msg; /* envelope lines, then the unstuffed data */
    size_t nrcpt;      /* RCPT TO accepted in this transaction */
    size_t data_len;   /* data bytes seen (counted past the limit too) */
    bool data_long;    /* a data line was over SMTP_DATA_LINE_MAX */
    bool data_bare_lf; /* a data line ended in a bare "\n" */
    bool delivered;    /* msg was handed out: empty it on the next call */
};

enum smtp_event {
    SMTP_ERROR = -1,    /* out of memory (errno ENOMEM) */
    SMTP_NEED_MORE = 0, /* no complete line is held */
    SMTP_REPLY = 1,     /* send res->reply */
    SMTP_DELIVER = 2,   /* store res->msg, then send res->reply (250) */
    SMTP_QUIT = 3       /* send res->reply (221), then close */
};

struct smtp_result {
    const char *reply; /* whole reply, every line with its CRLF */
    size_t reply_len;
    const unsigned char *msg; /* SMTP_DELIVER: the mailbox file's bytes */
    size_t msg_len;
    size_t nrcpt; /* SMTP_DELIVER: how many recipients */
};

/* Returns the greeting line ("220 ...\r\n") a server sends on connect. */
const char *smtp_greeting(void);

/* Returns nothing; makes s a new session. It must not move afterwards. */
void smtp_init(struct smtp_session *s);

/* Returns nothing; frees what s holds (it can be smtp_init'ed again). */
void smtp_free(struct smtp_session *s);

/*
 * Returns how many of the len bytes at data were taken (fewer only when
 * a full line is held: take events with smtp_next(), then feed the rest).
 */
size_t smtp_feed(struct smtp_session *s, const void *data, size_t len);

/*
 * Returns the next event held input yields (SMTP_REPLY, SMTP_DELIVER or
 * SMTP_QUIT, with res filled; res->msg stays valid until the next call),
 * SMTP_NEED_MORE when input runs out first, or SMTP_ERROR with errno
 * ENOMEM.
 */
int smtp_next(struct smtp_session *s, struct smtp_result *res);

/* Returns true while s is reading mail data (after 354, before "."). */
bool smtp_in_data(const struct smtp_session *s);

#endif /* SMTP_H */
