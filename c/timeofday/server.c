/*
 * timeofday server: on every connection sends `Agora é:` + the local time
 * as Java's Date.toString() writes it (`Www Mmm dd hh:mm:ss ZZZ yyyy`) +
 * "\n", UTF-8, then a lingering close. Input is never interpreted. Many
 * clients at once, until SIGINT/SIGTERM.
 *
 * Slide: seed 002, the Java time-of-day server on port 5155 (a thread per
 * connection, println with the platform's separator and charset). Here the
 * bytes are fixed: "\n" and UTF-8 whatever the locale says.
 *
 * Run:  build/c/timeofday/server 5155
 *       build/c/timeofday/client 127.0.0.1 5155 </dev/null
 */
#include "loop.h"
#include "net.h"
#include "num.h"
#include "timefmt.h"

#include <err.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* "Agora é:" with é spelled in UTF-8 bytes, so the source charset is moot. */
#define TIMEOFDAY_PREFIX "Agora \xc3\xa9:"

static int timeofday_open(struct loop_conn *c)
{
    char line[sizeof(TIMEOFDAY_PREFIX) + TIMEFMT_MAX + 1];
    char zone[16];
    size_t len = sizeof(TIMEOFDAY_PREFIX) - 1;
    time_t now = time(NULL);
    struct tm tm;
    int n;

    if (localtime_r(&now, &tm) == NULL) {
        return -1;
    }
    /* %Z is the zone's abbreviation; it does not depend on the locale. */
    if (strftime(zone, sizeof(zone), "%Z", &tm) == 0) {
        memcpy(zone, "UTC", 4);
    }
    memcpy(line, TIMEOFDAY_PREFIX, len);
    n = timefmt_javadate(line + len, sizeof(line) - len - 1, &tm, zone);
    if (n < 0) {
        return -1;
    }
    len += (size_t)n;
    line[len++] = '\n';
    if (loop_send(c, line, len) < 0) {
        return -1;
    }
    loop_close_after_flush(c);
    return 0;
}

int main(int argc, char *argv[])
{
    /* No on_data: whatever arrives is drained by the lingering close. */
    static const struct loop_proto timeofday = {.on_open = timeofday_open};
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
    fprintf(stderr, "timeofday server listening on port %d\n", port);
    if (loop_run(fd, &timeofday, NULL) < 0) {
        err(1, "server loop");
    }
    close(fd);
    return 0;
}
