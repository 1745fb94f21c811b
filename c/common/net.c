/* net: resolve, listen, connect and accept (see net.h). */
#include "net.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

#if defined(__GNUC__)
#define NET_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NET_PRINTF(f, a)
#endif

/* Fills err (when there is one) like snprintf; keeps errno. */
NET_PRINTF(3, 4)
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    errno = saved;
}

/* Fills err with "<what>: <strerror(errno) in lower case>"; keeps errno. */
static void set_errno_err(char *err, size_t errlen, const char *what)
{
    char reason[128];

    snprintf(reason, sizeof reason, "%s", strerror(errno));
    reason[0] = (char)tolower((unsigned char)reason[0]);
    set_err(err, errlen, "%s: %s", what, reason);
}

/* Maps a getaddrinfo failure onto errno. */
static void gai_errno(int rc, int sys_errno)
{
    errno = rc == EAI_SYSTEM ? sys_errno : (rc == EAI_MEMORY ? ENOMEM : EIO);
}

static int set_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
        return -1;
    }
    return 0;
}

/* Returns a close-on-exec socket, or -1 with errno set. */
static int new_socket(int family, int socktype, int protocol)
{
    int fd = socket(family, socktype | SOCK_CLOEXEC, protocol);

    if (fd >= 0 && SOCK_CLOEXEC == 0 && set_cloexec(fd) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/*
 * Returns a socket of family bound to the wildcard address and port
 * (listening when socktype is SOCK_STREAM), or -1 with errno set.
 */
static int bind_any(int family, int port, int socktype)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char service[16];
    int fd = -1;
    int one = 1;
    int zero = 0;
    int rc;
    int saved;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(NULL, service, &hints, &res);
    if (rc != 0) {
        gai_errno(rc, errno);
        return -1;
    }
    fd = new_socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0) {
        goto fail;
    }
    /* One socket for both families: IPv4 clients arrive as ::ffff:a.b.c.d. */
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) {
        goto fail;
    }
    /* Restarting a server must not wait for old connections' TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        goto fail;
    }
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        goto fail;
    }
    if (socktype == SOCK_STREAM && listen(fd, SOMAXCONN) < 0) {
        goto fail;
    }
    freeaddrinfo(res);
    return fd;

fail:
    saved = errno;
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(res);
    errno = saved;
    return -1;
}

int net_listen(int port, int socktype, char *err, size_t errlen)
{
    char what[64];
    int fd;

    if (port < 0 || port > 65535) {
        errno = EINVAL;
        set_err(err, errlen, "invalid port %d", port);
        return -1;
    }
    fd = bind_any(AF_INET6, port, socktype);
    /*
     * Fall back to IPv4 only when this host cannot do IPv6; a port in use
     * or a permission problem would fail the same way with AF_INET.
     */
    if (fd < 0 && errno != EADDRINUSE && errno != EACCES) {
        fd = bind_any(AF_INET, port, socktype);
    }
    if (fd < 0) {
        snprintf(what, sizeof what, "cannot %s port %d",
                 socktype == SOCK_STREAM ? "listen on" : "bind", port);
        set_errno_err(err, errlen, what);
    }
    return fd;
}

/*
 * Returns 0 once fd is connected to sa, or -1 with errno set. A signal
 * does not stop the handshake: after EINTR it goes on in the background,
 * so wait for it and collect its outcome from SO_ERROR.
 */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t salen)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t len = sizeof soerr;

    if (connect(fd, sa, salen) == 0) {
        return 0;
    }
    if (errno != EINTR) {
        return -1;
    }
    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
        return -1;
    }
    if (soerr != 0) {
        errno = soerr;
        return -1;
    }
    return 0;
}

/* Writes "host:port", bracketing hosts that contain ':' (IPv6). */
static void host_port(char *buf, size_t len, const char *host, int port)
{
    if (strchr(host, ':') != NULL) {
        snprintf(buf, len, "[%s]:%d", host, port);
    } else {
        snprintf(buf, len, "%s:%d", host, port);
    }
}

int net_connect(const char *host, int port, int socktype, char *err,
                size_t errlen)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    char service[16];
    char where[NET_ADDRSTRLEN + 256];
    int fd = -1;
    int rc;
    int saved = ECONNREFUSED;

    host_port(where, sizeof where, host, port);
    if (port < 1 || port > 65535) {
        errno = EINVAL;
        set_err(err, errlen, "invalid port in %s", where);
        return -1;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    /*
     * No AI_ADDRCONFIG: it hides ::1 on hosts whose only IPv6 address is
     * loopback, and trying every address copes with unusable families.
     */
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        int sys = errno;
        set_err(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        gai_errno(rc, sys);
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = new_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        if (connect_fd(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        char reason[128];
        errno = saved;
        snprintf(reason, sizeof reason, "%s", strerror(saved));
        reason[0] = (char)tolower((unsigned char)reason[0]);
        set_err(err, errlen, "%s to %s", reason, where);
        errno = saved;
    }
    return fd;
}

int net_addr_text(const struct sockaddr *sa, socklen_t salen, char *buf,
                  size_t buflen)
{
    char host[INET6_ADDRSTRLEN];
    int port;

    if (sa->sa_family == AF_INET6 &&
        salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        port = ntohs(s6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            /* The last four bytes are the IPv4 client's address. */
            if (inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host,
                          sizeof host) == NULL) {
                return -1;
            }
            snprintf(buf, buflen, "%s:%d", host, port);
            return 0;
        }
        if (inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host) == NULL) {
            return -1;
        }
        snprintf(buf, buflen, "[%s]:%d", host, port);
        return 0;
    }
    if (sa->sa_family == AF_INET &&
        salen >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        if (inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host) == NULL) {
            return -1;
        }
        snprintf(buf, buflen, "%s:%d", host, ntohs(s4->sin_port));
        return 0;
    }
    errno = EAFNOSUPPORT;
    return -1;
}

int net_accept(int listen_fd, char *peer, size_t peerlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;

    for (;;) {
        len = sizeof ss;
        fd = accept(listen_fd, (struct sockaddr *)&ss, &len);
        if (fd >= 0 || errno != EINTR) {
            break;
        }
    }
    if (fd < 0) {
        return -1;
    }
    if (set_cloexec(fd) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    if (peer != NULL && peerlen > 0 &&
        net_addr_text((struct sockaddr *)&ss, len, peer, peerlen) < 0) {
        snprintf(peer, peerlen, "?");
    }
    return fd;
}

int net_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return -1;
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    errno = EAFNOSUPPORT;
    return -1;
}

int net_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0) {
        return -1;
    }
    if ((flags & O_NONBLOCK) == 0 &&
        fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return -1;
    }
    return 0;
}
