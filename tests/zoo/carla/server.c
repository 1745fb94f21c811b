/* Ack server (lesson 002, "Servidor em C"), written by Carla.
 * Reads one message (up to the '\n', 255 bytes or EOF), answers with a
 * fixed sentence and closes. A child process per client.
 * Run: ./server PORT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <unistd.h>

static const char response[] = "Sou o Servidor. Recebi sua mensagem.";

static void error(const char *msg)
{
    perror(msg);
    exit(1);
}

/* Writes all of buf: write() may send only part of it. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void serve(int fd)
{
    char buffer[256];
    size_t len = 0;

    /* One read() is not one message: keep reading until the '\n', 255
     * bytes or the client's EOF. */
    while (len < 255 && memchr(buffer, '\n', len) == NULL) {
        ssize_t n = read(fd, buffer + len, 255 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    buffer[len] = '\0';
    printf("Mensagem recebida do cliente: %s\n", buffer);
    fflush(stdout);
    if (write_all(fd, response, strlen(response)) < 0) {
        perror("ERRO: escrita no socket");
    }
    /* Closing with unread input sends a reset that can destroy the reply:
     * half-close, then read what is left (1 s at most). */
    shutdown(fd, SHUT_WR);
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (read(fd, buffer, sizeof(buffer)) > 0) {
    }
    close(fd);
}

int main(int argc, char *argv[])
{
    int sockfd, newsockfd, portno, yes = 1;
    struct sockaddr_in serv_addr;

    if (argc != 2 || (portno = atoi(argv[1])) <= 0 || portno > 65535) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        exit(2);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* no zombies: nobody waits for children */
    sockfd = socket(AF_INET, SOCK_STREAM, 0);
    if (sockfd < 0) {
        error("ERRO: abertura do socket");
    }
    setsockopt(sockfd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    memset(&serv_addr, 0, sizeof(serv_addr));
    serv_addr.sin_family = AF_INET;
    serv_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    serv_addr.sin_port = htons((unsigned short)portno);
    if (bind(sockfd, (struct sockaddr *)&serv_addr, sizeof(serv_addr)) < 0) {
        error("ERRO: ligacao");
    }
    listen(sockfd, 16);
    printf("Servidor ouvindo na porta [%s]...\n", argv[1]);
    fflush(stdout); /* before fork(), or every child prints it again */
    for (;;) {
        newsockfd = accept(sockfd, NULL, NULL);
        if (newsockfd < 0) {
            continue;
        }
        if (fork() == 0) {
            close(sockfd);
            serve(newsockfd);
            exit(0);
        }
        close(newsockfd);
    }
}
