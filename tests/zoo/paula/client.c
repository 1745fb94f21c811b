/* BUG ipv4-only (zoo): main() asks getaddrinfo() for IPv4 addresses only
 * (AF_INET), so a HOST such as ::1 cannot be reached. */
/* Ack client (lesson 002, "Cliente em C"), written by Paula.
 * Sends one line from stdin and prints the server's answer.
 * Run: ./client HOST PORT < line */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void error(const char *msg)
{
    perror(msg);
    exit(1);
}

int main(int argc, char *argv[])
{
    struct addrinfo hints, *res, *ai;
    char buffer[256];
    char reply[4096];
    size_t len = 0;
    ssize_t n;
    int sockfd = -1, rc;

    if (argc != 3 || atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        exit(2);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(argv[1], argv[2], &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "ERRO: host desconhecido: %s\n", gai_strerror(rc));
        exit(1);
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        sockfd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (sockfd >= 0 && connect(sockfd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        if (sockfd >= 0) {
            close(sockfd);
        }
        sockfd = -1;
    }
    freeaddrinfo(res);
    if (sockfd < 0) {
        error("ERRO: conexao");
    }
    fprintf(stderr, "Informe a mensagem: "); /* stdout is for the reply */
    if (fgets(buffer, sizeof(buffer), stdin) == NULL) {
        buffer[0] = '\0';
    }
    if (write(sockfd, buffer, strlen(buffer)) < 0) {
        error("ERRO: escrita no socket");
    }
    shutdown(sockfd, SHUT_WR); /* the message ends here, '\n' or not */
    /* One read() may return only part of the reply: read until EOF. */
    while ((n = read(sockfd, reply + len, sizeof(reply) - len)) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error("ERRO: leitura do socket");
        }
        len += (size_t)n;
        if (len == sizeof(reply)) {
            break;
        }
    }
    close(sockfd);
    if (len == 0) {
        fprintf(stderr, "ERRO: conexao fechada sem resposta\n");
        exit(1);
    }
    fwrite(reply, 1, len, stdout);
    printf("\n");
    return 0;
}
