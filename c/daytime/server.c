/*
 * daytime server: on every connection sends the local time as Python's
 * time.ctime() writes it (`Www Mmm dd hh:mm:ss yyyy`, 24 bytes, no
 * newline), then a lingering close. Input is never interpreted. Many
 * clients at once, until SIGINT/SIGTERM.
 *
 * Slide: seed 002, the Python time server on port 8888 (send(ctime), then
 * close at once: a client that sent something may get a reset; the
 * lingering close here avoids it).
 *
 * Run:  build/c/daytime/server 8888
 *       build/c/daytime/client 127.0.0.1 8888 </dev/null
 */
#include "loop.h"
#include "net.h"
#include "num.h"
#include "timefmt.h"

#include <err.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int daytime_open(struct loop_conn *c)
{
    char text[TIMEFMT_MAX];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    /* localtime_r: TZ decides, as for Python's time.ctime(). */
    if (localtime_r(&now, &tm) == NULL) {
        return -1;
    }
    n = timefmt_ctime(text, sizeof(text), &tm);
    if (n < 0 || loop_send(c, text, (size_t)n) < 0) {
        return -1;
    }
    loop_close_after_flush(c);
    return 0;
}

int main(int argc, char *argv[])
{
    /* No on_data: whatever arrives is drained by the lingering close. */
    static const struct loop_proto daytime = {.on_open = daytime_open};
    char errbuf[256];
    int port;
    int fd;

    if (argc != 2 || (port = num_parse_port(argv[1])) < 0) {
        fprintf(stderr, "usage: server PORT   (PORT is 1..65535)\n");
        return 2;
    }
    tzset();
    fd = net_listen(port, SOCK_STREAM, errbuf, sizeof(errbuf));
    if (fd < 0) {
        errx(1, "%s", errbuf);
    }
    fprintf(stderr, "daytime server listening on port %d\n", port);
    if (loop_run(fd, &daytime, NULL) < 0) {
        err(1, "server loop");
    }
    close(fd);
    return 0;
}
