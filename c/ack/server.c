/*
 * ack server: reads one message per connection (up to and including the
 * first "\n", or 255 bytes, or whatever came before the client's EOF),
 * prints it, replies "Sou o Servidor. Recebi sua mensagem." (36 bytes, no
 * newline) and closes with a lingering close.
 *
 * Slide: seed 002's C server. It does one read(newsockfd, buffer, 255),
 * trusting it to hold the whole message, serves one client and calls
 * close() with input possibly unread (which can reset the reply away).
 * This reference frames the message properly, serves clients
 * concurrently until SIGINT/SIGTERM, and drains before closing.
 *
 * Run:  build/c/ack/server 5488
 *       echo 'Oi, sou o cliente!' | build/c/ack/client 127.0.0.1 5488
 */
#include "linebuf.h"
#include "loop.h"
#include "net.h"
#include "num.h"

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* The slide's read(..., 255): longer messages end at 255 bytes. */
#define ACK_MAX_MESSAGE 255

static const char ack_reply[] = "Sou o Servidor. Recebi sua mensagem.";

struct ack_conn {
    struct linebuf lb;
    unsigned char storage[ACK_MAX_MESSAGE];
};

/* Prints the message, queues the reply and asks for the lingering close. */
static int answer(struct loop_conn *c, const unsigned char *msg, size_t len)
{
    printf("Mensagem recebida do cliente: ");
    fwrite(msg, 1, len, stdout);
    printf("\n");
    fflush(stdout);
    if (loop_send(c, ack_reply, sizeof ack_reply - 1) < 0) {
        return -1;
    }
    loop_close_after_flush(c);
    return 0;
}

static int ack_open(struct loop_conn *c)
{
    struct ack_conn *st = loop_conn_state(c);

    linebuf_init(&st->lb, st->storage, sizeof st->storage);
    return 0;
}

static int ack_data(struct loop_conn *c, const unsigned char *data, size_t len)
{
    struct ack_conn *st = loop_conn_state(c);
    const unsigned char *msg;
    size_t n;

    /*
     * One message per connection: a "\n" or 255 bytes ends it, and the
     * loop discards whatever follows once the close is asked for.
     */
    linebuf_feed(&st->lb, data, len);
    if (linebuf_next(&st->lb, &msg, &n) != LINEBUF_NEED_MORE) {
        return answer(c, msg, n);
    }
    return 0;
}

static int ack_eof(struct loop_conn *c)
{
    struct ack_conn *st = loop_conn_state(c);
    const unsigned char *msg = NULL;
    size_t n = 0;

    /* EOF ends the message, even an empty one (the slide replies too). */
    if (!linebuf_take_rest(&st->lb, &msg, &n)) {
        msg = (const unsigned char *)"";
    }
    return answer(c, msg, n);
}

int main(int argc, char *argv[])
{
    static const struct loop_proto ack = {
        .state_size = sizeof(struct ack_conn),
        .on_open = ack_open,
        .on_data = ack_data,
        .on_eof = ack_eof,
    };
    char errbuf[256];
    int port;
    int fd;

    if (argc != 2 || (port = num_parse_port(argv[1])) < 0) {
        fprintf(stderr, "usage: server PORT   (PORT is 1..65535)\n");
        return 2;
    }
    fd = net_listen(port, SOCK_STREAM, errbuf, sizeof errbuf);
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    fprintf(stderr, "ack server listening on port %d\n", port);
    if (loop_run(fd, &ack, NULL) < 0) {
        err(1, "server loop");
    }
    close(fd);
    return 0;
}
