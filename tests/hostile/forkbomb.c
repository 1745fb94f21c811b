/* Hostile client: a fork bomb. `forkbomb HOST PORT [CAP]`.
 * Forks until fork() fails; every child leaves the process group and the
 * session (setsid) and waits forever, so only the sandbox can end them.
 * Prints "forked N, then: ERROR" and exits 3. CAP (default 600) keeps a
 * sandbox without a process limit from taking the whole machine down
 * while the test finds that out: "forked CAP, no limit reached", exit 4. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long cap = argc > 3 ? strtol(argv[3], NULL, 10) : 600;
    long n = 0;
    fflush(stdout);
    for (;;) {
        if (n >= cap) {
            printf("forked %ld, no limit reached\n", n);
            fflush(stdout);
            return 4;
        }
        pid_t pid = fork();
        if (pid < 0) {
            int err = errno;
            printf("forked %ld, then: %s\n", n, strerror(err));
            fflush(stdout);
            fprintf(stderr, "fork bomb stopped after %ld forks: %s\n", n,
                    strerror(err));
            return 3;
        }
        if (pid == 0) {
            setsid();
            for (;;) {
                pause();
            }
        }
        n++;
    }
}
