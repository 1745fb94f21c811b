/*
 * net: resolve, listen, connect and accept.
 *
 * Every function returns -1 with errno set on failure; the functions that
 * take an err buffer also fill it with one line of text for main() to show
 * (resolver failures carry gai_strerror's text there, errno is then EIO
 * unless the resolver reported a system error).
 */
#ifndef SL_NET_H
#define SL_NET_H

#include <stddef.h>
#include <sys/socket.h>

/* Room for "[" IPv6 text "]:" port and a NUL. */
#define NET_ADDRSTRLEN 64

/*
 * Returns a socket bound to port on every interface (an AF_INET6 socket
 * with IPV6_V6ONLY off, or AF_INET where IPv6 is unavailable), listening
 * with backlog SOMAXCONN when socktype is SOCK_STREAM, or -1 with errno
 * set and err filled; port 0 asks the kernel for an ephemeral port.
 */
int net_listen(int port, int socktype, char *err, size_t errlen);

/*
 * Returns a socket connected to host:port, trying every address the
 * resolver gives in order, or -1 with errno from the last attempt and err
 * filled, e.g. "connection refused to 127.0.0.1:5050".
 */
int net_connect(const char *host, int port, int socktype, char *err,
                size_t errlen);

/*
 * Returns a new close-on-exec socket for the next pending connection on
 * listen_fd (EINTR retried) and, when peer is not NULL, writes the
 * client's address as "host:port" into it, or -1 with errno set (EAGAIN
 * when a non-blocking listen_fd has nothing pending).
 */
int net_accept(int listen_fd, char *peer, size_t peerlen);

/*
 * Returns 0 after writing sa as "host:port" ("[v6]:port" for IPv6, with
 * IPv4-mapped IPv6 addresses shown as plain IPv4) into buf, or -1 with
 * errno set.
 */
int net_addr_text(const struct sockaddr *sa, socklen_t salen, char *buf,
                  size_t buflen);

/* Returns the local port fd is bound to, or -1 with errno set. */
int net_local_port(int fd);

/* Returns 0 once fd is in non-blocking mode, or -1 with errno set. */
int net_set_nonblock(int fd);

#endif
