/*
 * smtp server: the lesson subset of SMTP in protocols/smtp/README.md.
 * Greets with 220, answers HELO/EHLO, MAIL FROM, RCPT TO, DATA, RSET,
 * NOOP and QUIT, and stores every accepted message as mailbox/<n>.eml in
 * its working directory (envelope lines, then the message as received).
 * Many clients at once on the shared poll loop, until SIGINT/SIGTERM;
 * every bad line gets an SMTP error reply and the session goes on.
 *
 * Slide: seed 004 (PMR3412 Aula 05), "Protocolos de Email": SMTP on TCP
 * port 25, header, empty line, body; MIME and Base64.
 *
 * Run:  build/c/smtp/server 2525
 *       build/c/smtp/client 127.0.0.1 2525 < message.txt
 */
#include "io.h"
#include "loop.h"
#include "net.h"
#include "num.h"
#include "smtp.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SMTP_R_LOCAL "451 Requested action aborted: local error\r\n"

struct smtp_mailbox {
    unsigned long next; /* the number the next message tries first */
};

/*
 * Writes the message under a temporary name, then link()s it to the
 * first free mailbox/<n>.eml: a reader never sees half a file, and a
 * restarted server never overwrites what an earlier one delivered.
 * Returns the number used, or 0 after a warning.
 */
static unsigned long smtp_store(struct smtp_mailbox *mb,
                                const unsigned char *msg, size_t len)
{
    char tmp[64];
    char name[64];
    unsigned long n = 0;
    int fd = -1;

    if (mkdir(SMTP_MAILBOX_DIR, 0755) < 0 && errno != EEXIST) {
        warn("%s", SMTP_MAILBOX_DIR);
        return 0;
    }
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld", SMTP_MAILBOX_DIR, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        warn("%s", tmp);
        return 0;
    }
    if (io_write_all(fd, msg, len) < 0 || close(fd) < 0) {
        warn("writing %s", tmp);
        fd = -1;
        goto done;
    }
    fd = -1;
    for (n = mb->next; n != 0; n++) {
        snprintf(name, sizeof(name), "%s/%lu.eml", SMTP_MAILBOX_DIR, n);
        if (link(tmp, name) == 0) {
            mb->next = n + 1;
            break;
        }
        if (errno != EEXIST) {
            warn("%s", name);
            n = 0;
            break;
        }
    }

done:
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    return n;
}

static int smtp_on_open(struct loop_conn *c)
{
    const char *hello = smtp_greeting();

    smtp_init(loop_conn_state(c));
    return loop_send(c, hello, strlen(hello));
}

/* Acts on one event; returns 1 once the session is over, -1 to drop. */
static int smtp_event(struct loop_conn *c, int ev,
                      const struct smtp_result *res)
{
    const char *reply = res->reply;
    size_t reply_len = res->reply_len;

    if (ev == SMTP_ERROR) {
        warnx("%s: out of memory", loop_conn_peer(c));
        return -1;
    }
    if (ev == SMTP_DELIVER) {
        unsigned long n = smtp_store(loop_conn_ctx(c), res->msg, res->msg_len);

        if (n == 0) {
            reply = SMTP_R_LOCAL;
            reply_len = strlen(SMTP_R_LOCAL);
        } else {
            printf("delivered %s/%lu.eml from %s, %zu recipient(s)\n",
                   SMTP_MAILBOX_DIR, n, loop_conn_peer(c), res->nrcpt);
            fflush(stdout);
        }
    }
    if (loop_send(c, reply, reply_len) < 0) {
        return -1;
    }
    if (ev == SMTP_QUIT) {
        loop_close_after_flush(c);
        return 1;
    }
    return 0;
}

static int smtp_on_data(struct loop_conn *c, const unsigned char *data,
                        size_t len)
{
    struct smtp_session *s = loop_conn_state(c);
    struct smtp_result res;
    int ev;

    while (len > 0) {
        size_t used = smtp_feed(s, data, len);

        data += used;
        len -= used;
        while ((ev = smtp_next(s, &res)) != SMTP_NEED_MORE) {
            int r = smtp_event(c, ev, &res);

            if (r != 0) {
                /* After QUIT the rest is drained by the lingering close. */
                return r < 0 ? -1 : 0;
            }
        }
    }
    return 0;
}

static void smtp_on_close(struct loop_conn *c)
{
    /* A transaction still open here (EOF mid-DATA) is never delivered. */
    smtp_free(loop_conn_state(c));
}

int main(int argc, char *argv[])
{
    static const struct loop_proto smtp = {
        .state_size = sizeof(struct smtp_session),
        .on_open = smtp_on_open,
        .on_data = smtp_on_data,
        .on_close = smtp_on_close,
    };
    struct smtp_mailbox mb = {.next = 1};
    char errbuf[256];
    int port;
    int fd;

    if (argc != 2 || (port = num_parse_port(argv[1])) < 0) {
        fprintf(stderr, "usage: server PORT   (PORT is 1..65535)\n");
        return 2;
    }
    fd = net_listen(port, SOCK_STREAM, errbuf, sizeof(errbuf));
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    fprintf(stderr, "smtp server listening on port %d\n", port);
    if (loop_run(fd, &smtp, &mb) < 0) {
        err(1, "server loop");
    }
    close(fd);
    return 0;
}
