/*
 * sl-cell: the matrix driver's helper for isolated cells (docs/security.md).
 *
 * A cell is a set of Linux namespaces (network, mount, PID, IPC, and a user
 * namespace when the driver is not root) that bubblewrap creates. Two roles:
 *
 *   sl-cell hold FD
 *       Runs inside the cell, started by bwrap, with FD a SOCK_SEQPACKET
 *       socket to the driver. Says "ready" once (the kernel attaches its
 *       pid, translated to the driver's PID namespace), then makes sockets
 *       on request inside the cell's network namespace and passes them to
 *       the driver (SCM_RIGHTS): the driver's relay listens and connects
 *       there, so the cell's ports never meet anything else on the machine.
 *       Exits at EOF on FD (the driver closed it or died); the cell's
 *       PID namespace, and every process in it, ends with it.
 *
 *   sl-cell enter PID DIR [LIMITS] [--uid UID] -- PROG ARG...
 *       Joins the namespaces of process PID (a holder), changes to DIR,
 *       forks PROG there (a new PID namespace takes only children) and
 *       waits for it, ending the way it ended (exit status or signal), so
 *       the driver sees the program's own exit. Termination signals are
 *       ignored here: the driver signals the whole process group, which
 *       reaches PROG directly. LIMITS (--cpu S, --data MB, --nproc N,
 *       --fsize MB, --nofile N) and --uid apply to PROG only, with
 *       no_new_privs and no core dumps: the sandbox of students' programs.
 *
 *   sl-cell run [LIMITS] [--uid UID] -- PROG ARG...
 *       Applies LIMITS and --uid to itself and execs PROG, in whatever
 *       namespaces it runs in: a one-shot sandbox that bwrap starts (check
 *       compiles students' code so, as the sandbox's user).
 *
 * Exit status of `enter` and `run` themselves: 125 when the cell cannot be
 * joined, 126 when a limit or the uid cannot be set, 127 when PROG cannot be
 * run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define CELL_MB (1024UL * 1024UL)

/* Exit statuses of `enter` for its own failures (as env(1) uses them). */
#define CELL_EXIT_JOIN  125
#define CELL_EXIT_SETUP 126
#define CELL_EXIT_EXEC  127

static void usage(void)
{
    fprintf(stderr, "usage: sl-cell hold FD\n"
                    "       sl-cell enter PID DIR [LIMITS] -- PROG [ARG...]\n"
                    "       sl-cell run [LIMITS] -- PROG [ARG...]\n"
                    "LIMITS: [--cpu S] [--data MB] [--nproc N] [--fsize MB] "
                    "[--nofile N] [--uid UID]\n");
    exit(2);
}

/* Sends fd (or, when fd is -1, the error text for err) on the control
 * socket. Returns 0, or -1 with errno set. */
static int send_socket(int ctl, int fd, int err)
{
    char text[128];
    struct iovec iov;
    struct msghdr msg;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;

    memset(&msg, 0, sizeof(msg));
    if (fd >= 0) {
        text[0] = 'k';
        iov.iov_len = 1;
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    } else {
        int n = snprintf(text, sizeof(text), "e%s", strerror(err));
        iov.iov_len = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    }
    iov.iov_base = text;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    while (sendmsg(ctl, &msg, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* Parses a positive decimal number for option name. Exits 2 if it is not. */
static unsigned long number(const char *name, const char *text);

/* The holder's loop: each request is "FAMILY TYPE" in decimal; the answer
 * is the new socket or an error text. Returns the exit status. */
static int hold(int ctl)
{
    char req[64];

    if (fcntl(ctl, F_SETFD, FD_CLOEXEC) < 0) {
        perror("sl-cell hold: control socket");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (send(ctl, "r", 1, MSG_NOSIGNAL) != 1) {
        return 1;
    }
    for (;;) {
        ssize_t n = recv(ctl, req, sizeof(req) - 1, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0; /* the driver is gone: the cell ends with us */
        }
        req[n] = '\0';
        int family = 0;
        int type = 0;
        if (sscanf(req, "%d %d", &family, &type) != 2 ||
            (family != AF_INET && family != AF_INET6) ||
            (type != SOCK_STREAM && type != SOCK_DGRAM)) {
            if (send_socket(ctl, -1, EINVAL) < 0) {
                return 1;
            }
            continue;
        }
        int fd = socket(family, type | SOCK_CLOEXEC, 0);
        int rc = send_socket(ctl, fd, errno);
        if (fd >= 0) {
            close(fd);
        }
        if (rc < 0) {
            return 1;
        }
    }
}

/* Parses a positive decimal number for option name. Exits 2 if it is not. */
static unsigned long number(const char *name, const char *text)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0 || text[0] == '-') {
        fprintf(stderr, "sl-cell: %s wants a positive number, not '%s'\n", name,
                text);
        exit(2);
    }
    return v;
}

struct limits {
    unsigned long cpu_s, data_mb, nproc, fsize_mb, nofile;
    long uid; /* -1: keep */
};

/* Sets one resource limit (soft and hard). Returns 0, or -1 with errno. */
static int set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    return setrlimit(resource, &rl);
}

/* Applies the sandbox to the calling process (the child, before exec).
 * Returns 0, or -1 with a message printed. */
static int apply_limits(const struct limits *lim)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        set_limit(RLIMIT_CORE, 0, 0) < 0) {
        perror("sl-cell: no_new_privs");
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
        perror("sl-cell: setrlimit");
        return -1;
    }
    /* RLIMIT_NPROC counts the real uid's processes (one uid a cell) and,
     * since Linux 5.14, per user namespace (an unprivileged cell's). */
    if (lim->nproc && set_limit(RLIMIT_NPROC, lim->nproc, lim->nproc) < 0) {
        perror("sl-cell: setrlimit");
        return -1;
    }
    if (lim->uid >= 0) {
        uid_t uid = (uid_t)lim->uid;
        if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
            setresuid(uid, uid, uid) < 0) {
            perror("sl-cell: switching to the sandbox uid");
            return -1;
        }
    }
    return 0;
}

/* Opens /proc/PID/ns/NAME. Returns the fd, or -1 with a message. */
static int open_ns(const char *pid, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "sl-cell: %s: %s\n", path, strerror(errno));
    }
    return fd;
}

/* True when the namespace files a and b name different namespaces. */
static int same_ns(int a, int b)
{
    struct stat sa, sb;
    if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0) {
        return 0;
    }
    return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* Parses LIMITS and --uid from argv[first..] up to "--" into lim. Returns
 * the index of PROG (after "--"); exits 2 on bad usage. */
static int parse_limits(int argc, char **argv, int first, struct limits *lim)
{
    int i;
    for (i = first; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (i + 1 >= argc) {
            usage();
        }
        const char *opt = argv[i];
        const char *val = argv[i + 1];
        if (strcmp(opt, "--cpu") == 0) {
            lim->cpu_s = number(opt, val);
        } else if (strcmp(opt, "--data") == 0) {
            lim->data_mb = number(opt, val);
        } else if (strcmp(opt, "--nproc") == 0) {
            lim->nproc = number(opt, val);
        } else if (strcmp(opt, "--fsize") == 0) {
            lim->fsize_mb = number(opt, val);
        } else if (strcmp(opt, "--nofile") == 0) {
            lim->nofile = number(opt, val);
        } else if (strcmp(opt, "--uid") == 0) {
            lim->uid = (long)number(opt, val);
        } else {
            usage();
        }
    }
    if (i >= argc - 1) {
        usage();
    }
    return i + 1;
}

/* `run`: the sandbox applied to this process, then PROG. */
static int run(int argc, char **argv)
{
    struct limits lim = {0, 0, 0, 0, 0, -1};
    int at = parse_limits(argc, argv, 1, &lim);
    if (apply_limits(&lim) < 0) {
        return CELL_EXIT_SETUP;
    }
    execvp(argv[at], argv + at);
    fprintf(stderr, "sl-cell: cannot run %s: %s\n", argv[at], strerror(errno));
    return CELL_EXIT_EXEC;
}

static int enter(int argc, char **argv)
{
    static const struct {
        const char *name;
        int type;
    } order[] = {
        {"ipc", CLONE_NEWIPC},
        {"net", CLONE_NEWNET},
        {"pid", CLONE_NEWPID},
        {"mnt", CLONE_NEWNS},
    };
    struct limits lim = {0, 0, 0, 0, 0, -1};
    int fds[4];
    int i;

    if (argc < 3) {
        usage();
    }
    const char *pid = argv[1];
    const char *dir = argv[2];
    char **prog = argv + parse_limits(argc, argv, 3, &lim);

    /* Open all first: once in the cell's mount namespace, /proc is the
     * cell's and PID means nothing there. */
    for (i = 0; i < 4; i++) {
        fds[i] = open_ns(pid, order[i].name);
        if (fds[i] < 0) {
            return CELL_EXIT_JOIN;
        }
    }
    /* First the user namespace that owns the others (an unprivileged
     * driver's cell has one): it grants the rights to join them. Not the
     * holder's own: bwrap runs it in a nested user namespace, which has no
     * rights over its parent's network or mounts. */
    int own = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
    int userns = ioctl(fds[1], NS_GET_USERNS);
    int inner = open_ns(pid, "user");
    if (own < 0 || userns < 0 || inner < 0) {
        fprintf(stderr, "sl-cell: the cell's user namespaces: %s\n",
                strerror(errno));
        return CELL_EXIT_JOIN;
    }
    /* A root driver's cell has none of its own: all three are the same. */
    if (!same_ns(userns, own) && setns(userns, CLONE_NEWUSER) < 0) {
        fprintf(stderr, "sl-cell: joining the cell's user namespace: %s\n",
                strerror(errno));
        return CELL_EXIT_JOIN;
    }
    close(own);
    for (i = 0; i < 4; i++) {
        if (setns(fds[i], order[i].type) < 0) {
            fprintf(stderr, "sl-cell: joining the cell's %s namespace: %s\n",
                    order[i].name, strerror(errno));
            return CELL_EXIT_JOIN;
        }
        close(fds[i]);
    }
    /* Last, the holder's own user namespace: there the program is the
     * driver's user again, with no rights over the cell's mounts (bwrap
     * locked them there), so it cannot undo a read-only bind or a tmpfs. */
    if (!same_ns(inner, userns) && setns(inner, CLONE_NEWUSER) < 0) {
        fprintf(stderr, "sl-cell: joining the holder's user namespace: %s\n",
                strerror(errno));
        return CELL_EXIT_JOIN;
    }
    close(inner);
    close(userns);
    if (chdir(dir) < 0) {
        fprintf(stderr, "sl-cell: %s: %s\n", dir, strerror(errno));
        return CELL_EXIT_JOIN;
    }

    /* The driver signals the whole group, PROG included: this process
     * only waits, and must outlive PROG to report how it ended. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    pid_t child = fork();
    if (child < 0) {
        perror("sl-cell: fork");
        return CELL_EXIT_JOIN;
    }
    if (child == 0) {
        static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE};
        for (i = 0; i < 5; i++) {
            signal(sigs[i], SIG_DFL);
        }
        if (apply_limits(&lim) < 0) {
            _exit(CELL_EXIT_SETUP);
        }
        execvp(prog[0], prog);
        fprintf(stderr, "sl-cell: cannot run %s: %s\n", prog[0],
                strerror(errno));
        _exit(CELL_EXIT_EXEC);
    }
    /* Dies with the driver; PROG, in the cell's PID namespace, dies when
     * the cell's holder does. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() == 1) {
        kill(child, SIGKILL);
        return CELL_EXIT_JOIN;
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("sl-cell: waitpid");
            return CELL_EXIT_JOIN;
        }
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    /* End by the same signal, without a core dump of this process. */
    int sig = WTERMSIG(status);
    set_limit(RLIMIT_CORE, 0, 0);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    return 128 + sig;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "hold") == 0) {
        return hold((int)number("hold FD", argv[2]));
    }
    if (argc >= 2 && strcmp(argv[1], "enter") == 0) {
        return enter(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        return run(argc - 1, argv + 1);
    }
    usage();
    return 2;
}
