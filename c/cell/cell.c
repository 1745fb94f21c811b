/*
 * sl-cell: the matrix driver's helper for isolated cells (docs/security.md).
 *
 * A cell is a set of Linux namespaces (network, mount, PID, IPC, and a user
 * namespace when the driver is not root) that bubblewrap creates. Two roles:
 *
 *   sl-cell hold FD
 *       Runs as PID 1 of the cell (bwrap --as-pid-1), with FD a
 *       SOCK_SEQPACKET socket to the driver. Says "ready" once (the kernel
 *       attaches its pid, translated to the driver's PID namespace), then
 *       answers requests, each "KIND ID\0PAYLOAD", answered "KIND ID"
 *       with an fd attached or "eID TEXT", not necessarily in order:
 *         "s" FAMILY TYPE  a socket made inside the cell's network
 *             namespace (SCM_RIGHTS): the driver's relay listens and
 *             connects there, so the cell's ports never meet anything else
 *             on the machine;
 *         "x" SPEC  a program started inside the cell, SPEC being
 *             NUL-separated fields: DIR, ARGC, LIMITS -- PROG ARG... (ARGC
 *             fields), ENVC, NAME=VALUE... (ENVC fields), with four fds
 *             attached: its stdin, stdout, stderr and a status pipe. The
 *             answer, once the program has exec'd, is a pidfd (its fdinfo
 *             gives the pid in the driver's namespace); when it ends, its
 *             wait status (an int) is written to the status pipe, and it
 *             is reaped once the driver has closed that pipe.
 *       The program leads a session of its own in DIR, with LIMITS (--cpu
 *       S, --data MB, --nproc N, --fsize MB, --nofile N) and --uid UID,
 *       no_new_privs, no core dumps and the seccomp filter (filter.h)
 *       when any is given: the sandbox of students' programs. Every
 *       program of a cell has oom_score_adj 1000 (the holder's). It
 *       exits 125 when DIR cannot be entered, 126 when a limit or the
 *       uid cannot be set, 127 when PROG cannot be run.
 *       One process starts every program of the cell, so a program costs
 *       a clone that shares the holder's memory (vfork's way) and its own
 *       exec, nothing more; and as the namespace's init the holder gets
 *       no signal a program sends it (kill(-1), kill(getppid())), while
 *       it reaps every orphan of the cell.
 *       Exits at EOF on FD (the driver closed it or died); the cell's PID
 *       namespace, and every process in it, ends with it.
 *
 *   sl-cell run [LIMITS] -- PROG ARG...
 *       Applies LIMITS and --uid (and oom_score_adj 1000 when any is
 *       given) to itself and execs PROG, in whatever namespaces it runs
 *       in: a one-shot sandbox that bwrap starts (check compiles
 *       students' code so, as the sandbox's user). Exits 126 when a
 *       limit or the uid cannot be set, 127 when PROG cannot be run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filter.h"

#define CELL_MB (1024UL * 1024UL)

/* Exit statuses of a started program for the holder's or run's own
 * failures (as env(1) uses them). */
#define CELL_EXIT_DIR   125
#define CELL_EXIT_SETUP 126
#define CELL_EXIT_EXEC  127

/* The largest request: a program's argv and environment. */
#define CELL_REQUEST_MAX (128 * 1024)
/* A request's fds: stdin, stdout, stderr, status. */
#define CELL_SPAWN_FDS 4

extern char **environ;

struct limits {
    unsigned long cpu_s, data_mb, nproc, fsize_mb, nofile;
    long uid; /* -1: keep */
};

/* A program the holder started and has not seen end. */
struct kid {
    pid_t pid;
    int status_fd;
    int reported; /* its status written; reaped once the driver closes */
    char id[24];  /* the request's */
};

static struct kid *kids;
static size_t kids_len, kids_cap;

static void usage(void)
{
    fprintf(stderr, "usage: sl-cell hold FD\n"
                    "       sl-cell run [LIMITS] -- PROG [ARG...]\n"
                    "LIMITS: [--cpu S] [--data MB] [--nproc N] [--fsize MB] "
                    "[--nofile N] [--uid UID]\n");
    exit(2);
}

/* Answers request id: kind with fd attached, or (fd -1) "e" and the text
 * for err. Returns 0, or -1 with errno set. */
static int answer(int ctl, char kind, const char *id, int fd, int err)
{
    char text[192];
    struct iovec iov;
    struct msghdr msg;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    int n;

    memset(&msg, 0, sizeof(msg));
    if (fd >= 0) {
        n = snprintf(text, sizeof(text), "%c%s", kind, id);
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    } else {
        n = snprintf(text, sizeof(text), "e%s %s", id, strerror(err));
    }
    iov.iov_base = text;
    iov.iov_len =
        n > 0 && (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    while (sendmsg(ctl, &msg, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* Parses a positive decimal number. Returns it, or 0 if text is not one. */
static unsigned long parse_number(const char *text)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        return 0;
    }
    return v;
}

/* Parses LIMITS and --uid from argv[first..] up to "--" into lim. Returns
 * the index of PROG (after "--"), or -1 on bad usage. */
static int parse_limits(int argc, char **argv, int first, struct limits *lim)
{
    int i;
    for (i = first; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (i + 1 >= argc) {
            return -1;
        }
        const char *opt = argv[i];
        unsigned long v = parse_number(argv[i + 1]);
        if (v == 0) {
            return -1;
        }
        if (strcmp(opt, "--cpu") == 0) {
            lim->cpu_s = v;
        } else if (strcmp(opt, "--data") == 0) {
            lim->data_mb = v;
        } else if (strcmp(opt, "--nproc") == 0) {
            lim->nproc = v;
        } else if (strcmp(opt, "--fsize") == 0) {
            lim->fsize_mb = v;
        } else if (strcmp(opt, "--nofile") == 0) {
            lim->nofile = v;
        } else if (strcmp(opt, "--uid") == 0) {
            lim->uid = (long)v;
        } else {
            return -1;
        }
    }
    if (i >= argc - 1) {
        return -1;
    }
    return i + 1;
}

/* True when lim asks for anything (then the sandbox applies). */
static int limited(const struct limits *lim)
{
    return lim->cpu_s || lim->data_mb || lim->nproc || lim->fsize_mb ||
           lim->nofile || lim->uid >= 0;
}

/* Writes "sl-cell: WHAT: strerror(err)" to fd 2 with one write(2) and no
 * stdio: a started program's child shares the holder's memory until its
 * exec, so it must leave the holder's FILE state alone. */
static void say(const char *what, int err)
{
    char line[512];
    int n =
        snprintf(line, sizeof(line), "sl-cell: %s: %s\n", what, strerror(err));
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len >= sizeof(line)) {
        len = sizeof(line) - 1;
    }
    if (write(2, line, len) < 0) {
        /* nowhere else to say it */
    }
}

/* Sets one resource limit (soft and hard). Returns 0, or -1 with errno. */
static int set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    return setrlimit(resource, &rl);
}

/* Memory is capped per process (RLIMIT_DATA), not per cell: should the
 * machine run out, the OOM killer is to take a cell's process (the
 * biggest, a student's memory hog) before the driver or the teacher's
 * session. Sets the calling process's oom_score_adj to 1000, which its
 * children inherit (raising it needs no privilege). Returns 0, or -1 with
 * a message printed. */
static int oom_first(void)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "1000", 4) != 4) {
        say("oom_score_adj", errno);
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    return 0;
}

/* Applies the sandbox to the calling process (the child, before exec).
 * Returns 0, or -1 with a message printed. */
static int apply_limits(const struct limits *lim)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        set_limit(RLIMIT_CORE, 0, 0) < 0) {
        say("no_new_privs", errno);
        return -1;
    }
    /* CPU: SIGXCPU first (which says why), SIGKILL a second later. */
    if ((lim->cpu_s && set_limit(RLIMIT_CPU, lim->cpu_s, lim->cpu_s + 1) < 0) ||
        (lim->data_mb && set_limit(RLIMIT_DATA, lim->data_mb * CELL_MB,
                                   lim->data_mb * CELL_MB) < 0) ||
        (lim->fsize_mb && set_limit(RLIMIT_FSIZE, lim->fsize_mb * CELL_MB,
                                    lim->fsize_mb * CELL_MB) < 0) ||
        (lim->nofile &&
         set_limit(RLIMIT_NOFILE, lim->nofile, lim->nofile) < 0)) {
        say("setrlimit", errno);
        return -1;
    }
    /* RLIMIT_NPROC counts the real uid's processes (one uid a cell) and,
     * since Linux 5.14, per user namespace (an unprivileged cell's). */
    if (lim->nproc && set_limit(RLIMIT_NPROC, lim->nproc, lim->nproc) < 0) {
        say("setrlimit", errno);
        return -1;
    }
    if (lim->uid >= 0) {
        /* The system calls themselves: glibc's wrappers would signal
         * every thread of a threaded process, and the child of a spawn
         * shares the holder's memory (it has one thread; this only says
         * the calls touch nothing but this process's credentials). */
        long uid = lim->uid;
        if (syscall(SYS_setgroups, 0, NULL) < 0 ||
            syscall(SYS_setresgid, uid, uid, uid) < 0 ||
            syscall(SYS_setresuid, uid, uid, uid) < 0) {
            say("switching to the sandbox uid", errno);
            return -1;
        }
    }
    if (cell_filter_install() < 0) {
        say("seccomp filter", errno);
        return -1;
    }
    return 0;
}

/* Splits a spawn request's fields (after the "x") into dir, argv and envp
 * (NULL-terminated, pointing into buf). Returns 0, or -1 if malformed. */
static int parse_spawn(char *buf, size_t len, char **dir, char ***argv,
                       int *argc, char ***envp)
{
    size_t nfields = 0;
    size_t i;

    if (len == 0 || buf[len - 1] != '\0') {
        return -1;
    }
    for (i = 0; i < len; i++) {
        nfields += buf[i] == '\0';
    }
    char **fields = calloc(nfields + 1, sizeof(char *));
    if (fields == NULL) {
        return -1;
    }
    size_t n = 0;
    for (char *p = buf; p < buf + len; p += strlen(p) + 1) {
        fields[n++] = p;
    }
    /* DIR ARGC ARG... ENVC ENV... */
    unsigned long ac = n >= 2 ? parse_number(fields[1]) : 0;
    if (n < 3 || ac == 0 || ac > n - 3) {
        free(fields);
        return -1;
    }
    unsigned long ec =
        strcmp(fields[2 + ac], "0") == 0 ? 0 : parse_number(fields[2 + ac]);
    if ((ec == 0 && strcmp(fields[2 + ac], "0") != 0) || 3 + ac + ec != n) {
        free(fields);
        return -1;
    }
    /* argv ends where ENVC was (parsed: no longer needed), envp at the
     * array's end (calloc'd one longer). */
    fields[2 + ac] = NULL;
    *dir = fields[0];
    *argv = fields + 2;
    *argc = (int)ac;
    *envp = fields + 3 + ac;
    return 0;
}

/* What the child of a spawn needs; it lives on the holder's stack, which
 * the child can read because it shares the holder's memory. */
struct start {
    const char *dir;
    char **prog;
    char **envp;
    const struct limits *lim;
    const int *fds;
    const sigset_t *mask;
};

/* The child's stack: the holder waits while the child uses it (vfork's
 * rule), so one serves every spawn. Untouched pages cost nothing. */
static char child_stack[1024 * 1024] __attribute__((aligned(16)));

/* The child's side of a spawn, on child_stack in the holder's memory
 * (clone with CLONE_VM | CLONE_VFORK): no stdio, no heap, nothing the
 * holder keeps is changed but environ, which the holder puts back.
 * Never returns. */
static int start_program(void *arg)
{
    const struct start *st = arg;
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, st->mask, NULL);
    setsid();
    for (int i = 0; i < 3; i++) {
        if (st->fds[i] == i) {
            fcntl(i, F_SETFD, 0);
        } else if (dup2(st->fds[i], i) < 0) {
            _exit(CELL_EXIT_SETUP);
        }
    }
    if (chdir(st->dir) < 0) {
        say(st->dir, errno);
        _exit(CELL_EXIT_DIR);
    }
    if (limited(st->lim) && apply_limits(st->lim) < 0) {
        _exit(CELL_EXIT_SETUP);
    }
    environ = st->envp;
    execvp(st->prog[0], st->prog);
    int err = errno;
    char what[256];
    snprintf(what, sizeof(what), "cannot run %s", st->prog[0]);
    say(what, err);
    _exit(CELL_EXIT_EXEC);
}

/* Starts the program a spawn request describes, with the request's fds,
 * and adds it to kids. The child shares the holder's memory and the
 * holder waits until it has exec'd (or ended), as with vfork: no page
 * tables are copied (a fork's copy and its copy-on-write faults were most
 * of a program's cost here), and the program leads its own session before
 * the driver learns its pid (a signal to its group finds the group).
 * Returns 0, or -1 with errno when the request was malformed or the
 * program could not be started (the caller answers either way). Closes
 * fds[0..2]; keeps fds[3] (the status pipe) for a started program. */
static int spawn(char *buf, size_t len, int fds[], const sigset_t *mask,
                 const char *id)
{
    char *dir = NULL;
    char **argv = NULL;
    char **envp = NULL;
    int argc = 0;
    struct limits lim = {0, 0, 0, 0, 0, -1};
    int rc = -1;

    errno = EINVAL;
    if (parse_spawn(buf, len, &dir, &argv, &argc, &envp) < 0 ||
        strlen(id) >= sizeof(kids->id)) {
        goto out;
    }
    int at = parse_limits(argc, argv, 0, &lim);
    if (at < 0) {
        goto out;
    }
    if (kids_len == kids_cap) {
        size_t cap = kids_cap ? kids_cap * 2 : 64;
        struct kid *more = realloc(kids, cap * sizeof(*kids));
        if (more == NULL) {
            errno = ENOMEM;
            goto out;
        }
        kids = more;
        kids_cap = cap;
    }
    struct start st = {dir, argv + at, envp, &lim, fds, mask};
    char **env = environ;
    pid_t pid = clone(start_program, child_stack + sizeof(child_stack),
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &st);
    int err = errno;
    environ = env;
    if (pid < 0) {
        errno = err;
        goto out;
    }
    struct kid *k = &kids[kids_len++];
    k->pid = pid;
    k->status_fd = fds[3];
    k->reported = 0;
    snprintf(k->id, sizeof(k->id), "%s", id);
    fds[3] = -1;
    rc = 0;
out:;
    int saved = errno;
    free(argv != NULL ? argv - 2 : NULL);
    for (int i = 0; i < CELL_SPAWN_FDS; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    errno = saved;
    return rc;
}

/* Program k has exec'd (or ended): answers its request with a pidfd,
 * which tells the driver the program's pid in the driver's namespace (its
 * fdinfo). It cannot have been reaped: that waits for the driver. Returns
 * 0, or -1 if the driver cannot be answered. */
static int answer_started(int ctl, const struct kid *k)
{
    int pidfd = (int)syscall(SYS_pidfd_open, k->pid, 0);
    if (pidfd < 0) {
        int err = errno;
        kill(k->pid, SIGKILL);
        return answer(ctl, 'e', k->id, -1, err);
    }
    int rc = answer(ctl, 'p', k->id, pidfd, 0);
    close(pidfd);
    return rc;
}

/* The wait status (as waitpid reports it) that si describes. */
static int wait_status(const siginfo_t *si)
{
    switch (si->si_code) {
    case CLD_EXITED:
        return (si->si_status & 0xff) << 8;
    case CLD_DUMPED:
        return (si->si_status & 0x7f) | 0x80;
    default:
        return si->si_status & 0x7f;
    }
}

/* Reaps the cell's orphans (whose init this is) that have ended, as far
 * as the first ended program not yet acknowledged by the driver: waitid
 * finds zombies in the order they became children, and a program's
 * zombie must wait (kid_done calls this again once it is reaped). */
static void reap_orphans(void)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
            si.si_pid == 0) {
            return;
        }
        for (size_t i = 0; i < kids_len; i++) {
            if (kids[i].pid == si.si_pid) {
                return;
            }
        }
        waitpid(si.si_pid, NULL, WNOHANG);
    }
}

/* Reports each program that ended (its wait status on its status pipe),
 * leaving it a zombie: its pid stays its own until the driver, having read
 * the status, closes the pipe (then kid_done reaps it). Then the orphans. */
static void reap(void)
{
    for (size_t i = 0; i < kids_len; i++) {
        siginfo_t si;
        if (kids[i].reported) {
            continue;
        }
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)kids[i].pid, &si, WEXITED | WNOHANG | WNOWAIT) <
                0 ||
            si.si_pid != kids[i].pid) {
            continue;
        }
        int status = wait_status(&si);
        /* A fresh pipe has room for an int; a driver that stopped reading
         * gets EPIPE (SIGPIPE is ignored) and the pipe's POLLERR. */
        if (write(kids[i].status_fd, &status, sizeof(status)) < 0) {
            /* nothing to do: the driver is not listening any more */
        }
        kids[i].reported = 1;
    }
    reap_orphans();
}

/* The driver closed program i's status pipe after its status: reaps it. */
static void kid_done(size_t i)
{
    while (waitpid(kids[i].pid, NULL, 0) < 0 && errno == EINTR) {
        /* a zombie already: returns at once */
    }
    close(kids[i].status_fd);
    kids[i] = kids[--kids_len];
    reap_orphans();
}

/* Receives one request with up to CELL_SPAWN_FDS fds (close-on-exec).
 * Returns its length, 0 at EOF, -1 on error; *nfds says how many came. */
static ssize_t receive(int ctl, char *buf, size_t size, int fds[], int *nfds)
{
    struct iovec iov = {buf, size};
    struct msghdr msg;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(CELL_SPAWN_FDS * sizeof(int))];
    } control;
    ssize_t n;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    do {
        n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    *nfds = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); n >= 0 && cm != NULL;
         cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                if (*nfds < CELL_SPAWN_FDS) {
                    fds[(*nfds)++] = fd;
                } else {
                    close(fd);
                }
            }
        }
    }
    if (n > 0 && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        errno = E2BIG;
        return -3;
    }
    return n;
}

/* Answers socket request id ("FAMILY TYPE"). Returns 0, or -1 if the
 * driver cannot be answered. */
static int make_socket(int ctl, const char *id, const char *req)
{
    int family = 0;
    int type = 0;
    if (sscanf(req, "%d %d", &family, &type) != 2 ||
        (family != AF_INET && family != AF_INET6) ||
        (type != SOCK_STREAM && type != SOCK_DGRAM)) {
        return answer(ctl, 'e', id, -1, EINVAL);
    }
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    int rc = answer(ctl, 'k', id, fd, errno);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* The holder's loop. Returns the exit status. */
static int hold(int ctl)
{
    static char req[CELL_REQUEST_MAX + 1];
    sigset_t chld, mask;

    if (fcntl(ctl, F_SETFD, FD_CLOEXEC) < 0) {
        perror("sl-cell hold: control socket");
        return 1;
    }
    /* Every program of the cell inherits it; once the holder is not
     * dumpable, the file is no longer its own to write. */
    if (oom_first() < 0) {
        return 1;
    }
    /*
     * Not dumpable: a program of the cell with the holder's uid (an
     * unprivileged driver's cell) can neither trace the holder nor open
     * its /proc files (its control socket among its fds). Its programs
     * are dumpable again after their exec.
     */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        perror("sl-cell hold: PR_SET_DUMPABLE");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, &mask) < 0) {
        perror("sl-cell hold: sigprocmask");
        return 1;
    }
    int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        perror("sl-cell hold: signalfd");
        return 1;
    }
    if (send(ctl, "r", 1, MSG_NOSIGNAL) != 1) {
        return 1;
    }
    struct pollfd *pfd = NULL;
    size_t pfd_cap = 0;
    for (;;) {
        /* The control socket, SIGCHLD, and the status pipes of programs
         * reported (POLLERR once the driver, having read the status,
         * closes it). */
        if (pfd_cap < kids_len + 2) {
            pfd_cap = kids_cap + 2;
            free(pfd);
            pfd = calloc(pfd_cap, sizeof(*pfd));
            if (pfd == NULL) {
                perror("sl-cell hold");
                return 1;
            }
        }
        pfd[0] = (struct pollfd){ctl, POLLIN, 0};
        pfd[1] = (struct pollfd){sigfd, POLLIN, 0};
        size_t npfd = 2;
        for (size_t i = 0; i < kids_len; i++) {
            if (kids[i].reported) {
                pfd[npfd++] = (struct pollfd){kids[i].status_fd, 0, 0};
            }
        }
        if (poll(pfd, npfd, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("sl-cell hold: poll");
            return 1;
        }
        for (size_t k = npfd; k-- > 2;) {
            if (pfd[k].revents == 0) {
                continue;
            }
            for (size_t i = 0; i < kids_len; i++) {
                if (kids[i].status_fd == pfd[k].fd) {
                    kid_done(i);
                    break;
                }
            }
        }
        if (pfd[1].revents) {
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof(si)) > 0) {
                /* drained: one SIGCHLD may stand for several children */
            }
            reap();
        }
        if (!pfd[0].revents) {
            continue;
        }
        /* KIND ID \0 PAYLOAD: "s" (a socket) or "x" (a program). */
        int fds[CELL_SPAWN_FDS] = {-1, -1, -1, -1};
        int nfds = 0;
        ssize_t n = receive(ctl, req, CELL_REQUEST_MAX, fds, &nfds);
        if (n == 0 || n == -1) {
            return 0; /* the driver is gone: the cell ends with us */
        }
        if (n > 0) {
            req[n] = '\0';
        }
        char kind = n > 0 ? req[0] : '?';
        const char *id = n > 0 ? req + 1 : "";
        size_t idlen = n > 0 ? strlen(id) : 0;
        char *payload = req + 1 + idlen + 1;
        size_t plen =
            n > 0 && (size_t)n > 2 + idlen ? (size_t)n - 2 - idlen : 0;
        int rc = 0;
        if (kind == 'x' && n > 0 && nfds == CELL_SPAWN_FDS) {
            rc = spawn(payload, plen, fds, &mask, id) < 0
                     ? answer(ctl, 'e', id, -1, errno)
                     : answer_started(ctl, &kids[kids_len - 1]);
        } else {
            for (int i = 0; i < nfds; i++) {
                close(fds[i]);
            }
            rc = kind == 's'
                     ? make_socket(ctl, id, payload)
                     : answer(ctl, 'e', id, -1, n == -3 ? E2BIG : EINVAL);
        }
        if (rc < 0) {
            return 1;
        }
    }
}

/* `run`: the sandbox applied to this process, then PROG. */
static int run(int argc, char **argv)
{
    struct limits lim = {0, 0, 0, 0, 0, -1};
    int at = parse_limits(argc, argv, 1, &lim);
    if (at < 0) {
        usage();
    }
    if ((limited(&lim) && oom_first() < 0) || apply_limits(&lim) < 0) {
        return CELL_EXIT_SETUP;
    }
    execvp(argv[at], argv + at);
    fprintf(stderr, "sl-cell: cannot run %s: %s\n", argv[at], strerror(errno));
    return CELL_EXIT_EXEC;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "hold") == 0) {
        unsigned long fd = parse_number(argv[2]);
        if (fd == 0 || fd > INT_MAX) {
            usage();
        }
        return hold((int)fd);
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        return run(argc - 1, argv + 1);
    }
    usage();
    return 2;
}
