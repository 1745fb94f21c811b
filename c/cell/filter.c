/*
 * The seccomp filter of students' programs (filter.h): a classic BPF
 * program over struct seccomp_data, built once, without libseccomp (one
 * list, one architecture check, one clone flag test).
 */
#define _GNU_SOURCE
#include "filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define CELL_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define CELL_ARCH AUDIT_ARCH_AARCH64
#else
#error "sl-cell: no seccomp architecture for this machine"
#endif

/* x32 system calls on x86_64 carry this bit: another table, refused. */
#define CELL_X32_BIT 0x40000000U

/* Refused with EPERM: reaching into other processes (ptrace,
 * process_vm_*, kcmp, pidfd_getfd), new namespaces and mounts (a user
 * namespace would give the program capabilities over its own), and the
 * kernel's attack surface no lesson uses (bpf, perf, userfaultfd, keys,
 * modules, handles). Most of them need a capability anyway; the list
 * holds them so that no capability, present or future, opens them. */
static const unsigned int refused[] = {
    SYS_ptrace,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_kcmp,
    SYS_pidfd_getfd,
    SYS_unshare,
    SYS_setns,
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_chroot,
    SYS_open_tree,
    SYS_move_mount,
    SYS_fsopen,
    SYS_fsconfig,
    SYS_fsmount,
    SYS_fspick,
    SYS_mount_setattr,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_userfaultfd,
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_reboot,
    SYS_swapon,
    SYS_swapoff,
    SYS_acct,
    SYS_quotactl,
    SYS_syslog,
    SYS_name_to_handle_at,
    SYS_open_by_handle_at,
};

/* Refused with ENOSYS: io_uring (libuv and others then use plain calls)
 * and clone3 (whose flags sit in memory a filter cannot read; glibc then
 * uses clone, whose flags it can). */
static const unsigned int missing[] = {
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_clone3,
};

/* clone's flags that make namespaces. */
#define CELL_CLONE_NEW                                                         \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |             \
     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | 0x00000080U /* TIME */)

#define N_REFUSED (sizeof(refused) / sizeof(refused[0]))
#define N_MISSING (sizeof(missing) / sizeof(missing[0]))
/* Fixed part (see below) plus one jump per listed call. */
#define CELL_PROG_MAX (16 + N_REFUSED + N_MISSING)

static struct sock_filter stmt(unsigned short code, unsigned int k)
{
    struct sock_filter f = BPF_STMT(code, k);
    return f;
}

/* A comparison with k: on true skip jt instructions, on false jf. */
static struct sock_filter jump(unsigned short code, unsigned int k,
                               unsigned char jt, unsigned char jf)
{
    struct sock_filter f = BPF_JUMP(BPF_JMP | code | BPF_K, k, jt, jf);
    return f;
}

#define LOAD(field)                                                            \
    stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define RET(v) stmt(BPF_RET | BPF_K, (v))

int cell_filter_install(void)
{
    struct sock_filter prog[CELL_PROG_MAX];
    unsigned short n = 0;
    /* A foreign architecture's table (i386 on x86_64): refused whole. */
    prog[n++] = LOAD(arch);
    prog[n++] = jump(BPF_JEQ, CELL_ARCH, 1, 0);
    prog[n++] = RET(SECCOMP_RET_ERRNO | EPERM);
    prog[n++] = LOAD(nr);
    prog[n++] = jump(BPF_JGE, CELL_X32_BIT, 0, 1);
    prog[n++] = RET(SECCOMP_RET_ERRNO | EPERM);
    /* clone with a namespace flag (its flags are argument 0 on x86_64
     * and aarch64; the low 32 bits hold them all). */
    prog[n++] = jump(BPF_JEQ, SYS_clone, 0, 3);
    prog[n++] = LOAD(args[0]);
    prog[n++] = jump(BPF_JSET, CELL_CLONE_NEW, 0, 1);
    prog[n++] = RET(SECCOMP_RET_ERRNO | EPERM);
    prog[n++] = LOAD(nr);
    /* The lists: each a jump to the EPERM or ENOSYS return at the end. */
    unsigned short lists = n;
    unsigned short end = (unsigned short)(lists + N_REFUSED + N_MISSING);
    for (size_t i = 0; i < N_REFUSED; i++, n++) {
        /* to end + 1 (EPERM): jt counts from the next instruction */
        prog[n] = jump(BPF_JEQ, refused[i], (unsigned char)(end - n), 0);
    }
    for (size_t i = 0; i < N_MISSING; i++, n++) {
        prog[n] = jump(BPF_JEQ, missing[i], (unsigned char)(end - n + 1), 0);
    }
    prog[n++] = RET(SECCOMP_RET_ALLOW);
    prog[n++] = RET(SECCOMP_RET_ERRNO | EPERM);
    prog[n++] = RET(SECCOMP_RET_ERRNO | ENOSYS);
    struct sock_fprog fprog = {n, prog};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
}
