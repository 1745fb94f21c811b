/*
 * ack client: prompts on stderr, reads ONE line from stdin ("\n"
 * included; without a "\n", whatever stdin holds), sends it, half-closes,
 * reads the server's reply until EOF and prints it followed by "\n".
 *
 * Slide: seed 002's C client. It fgets() at most 254 bytes, sends them
 * and does one read(sockfd, buffer, 255), trusting it to hold the whole
 * reply. This one sends the whole line and reads until the server's EOF.
 *
 * Run:  echo 'Oi, sou o cliente!' | build/c/ack/client 127.0.0.1 5488
 */
#include "io.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* Far more than the 36-byte reply; anything longer is not an ack. */
#define ACK_MAX_REPLY 65536

/* Set once the prompt (which has no newline) is on stderr. */
static int prompt_open;

/*
 * Like err(1, ...) (use_errno) or errx(1, ...), but the message starts on a
 * line of its own after the prompt (protocols/ack/README.md). The format
 * attribute lets the compiler check the callers' formats (and clang accept
 * the vwarn(fmt, ap) inside).
 */
static void fail(int use_errno, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(int use_errno, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (prompt_open) {
        fputc('\n', stderr);
    }
    errno = saved;
    va_start(ap, fmt);
    if (use_errno) {
        vwarn(fmt, ap);
    } else {
        vwarnx(fmt, ap);
    }
    va_end(ap);
    exit(1);
}

int main(int argc, char *argv[])
{
    struct io_buf reply = {0};
    char *line = NULL;
    size_t linecap = 0;
    ssize_t linelen;
    char errbuf[512];
    int port;
    int fd;

    if (argc != 3 || (port = num_parse_port(argv[2])) < 0) {
        fprintf(stderr, "usage: client HOST PORT   (PORT is 1..65535)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    fd = net_connect(argv[1], port, SOCK_STREAM, errbuf, sizeof errbuf);
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }

    fprintf(stderr, "Informe a mensagem: ");
    prompt_open = 1;
    errno = 0;
    linelen = getline(&line, &linecap, stdin);
    if (linelen < 0) {
        if (ferror(stdin)) {
            fail(1, "reading stdin");
        }
        linelen = 0; /* empty stdin: the message is empty */
    }
    if (io_write_all(fd, line, (size_t)linelen) < 0) {
        fail(1, "sending to %s:%d", argv[1], port);
    }
    free(line);
    /* The half-close ends the message for a server reading to EOF. */
    if (shutdown(fd, SHUT_WR) < 0) {
        fail(1, "shutdown");
    }
    if (io_read_eof(fd, &reply, ACK_MAX_REPLY) < 0) {
        fail(1, "receiving from %s:%d", argv[1], port);
    }
    close(fd);
    if (reply.len == 0) {
        fail(0, "connection closed without a reply");
    }
    if (io_write_all(STDOUT_FILENO, reply.data, reply.len) < 0 ||
        io_write_all(STDOUT_FILENO, "\n", 1) < 0) {
        fail(1, "writing stdout");
    }
    io_buf_free(&reply);
    return 0;
}
