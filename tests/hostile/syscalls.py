"""Hostile client: the system calls a student's program has no use for.
`syscalls.py [HOST PORT]`. For each, prints "NAME: ok" or "NAME: ERRNO"
(x86_64 and aarch64 numbers); ptrace and process_vm_readv aim at the
cell's first other process (its server) or else its init. Then whether a
thread and a child process still start, and the Seccomp line of
/proc/self/status. Exits 1 if any call succeeded, else 0."""

import ctypes
import errno
import os
import platform
import subprocess
import sys
import threading

libc = ctypes.CDLL(None, use_errno=True)
X86 = platform.machine() == "x86_64"
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
SIGCHLD = 17
others = sorted(int(d) for d in os.listdir("/proc") if d.isdigit() and int(d) not in (1, os.getpid()))
target = others[0] if others else 1
print(f"target: {target}")
# name: (x86_64 number, aarch64 number, arguments)
CALLS = {
    "ptrace": (101, 117, (16, target, 0, 0)),  # PTRACE_ATTACH
    "process_vm_readv": (310, 270, (target, 0, 0, 0, 0, 0)),
    "unshare": (272, 97, (CLONE_NEWUSER,)),
    "clone": (56, 220, (SIGCHLD | CLONE_NEWNET, 0, 0, 0, 0)),
    "clone3": (435, 435, (0, 0)),
    "setns": (308, 268, (0, 0)),
    "mount": (165, 40, (0, 0, 0, 0, 0)),
    "bpf": (321, 280, (0, 0, 0)),
    "perf_event_open": (298, 241, (0, 0, 0, 0, 0)),
    "userfaultfd": (323, 282, (0,)),
    "keyctl": (250, 219, (0, 0)),
    "io_uring_setup": (425, 425, (1, 0)),
}
got = []
for name, (x86, arm, args) in CALLS.items():
    ctypes.set_errno(0)
    r = libc.syscall(x86 if X86 else arm, *args)
    if r == 0 and name == "clone":
        os._exit(0)  # the child, in a new network namespace
    e = ctypes.get_errno()
    if r >= 0:
        got.append(name)
        if name == "clone":
            os.waitpid(r, 0)
    print(f"{name}: {'ok' if r >= 0 else errno.errorcode.get(e, e)}")
t = threading.Thread(target=lambda: print("thread: ok"))
t.start()
t.join()
child = subprocess.run(["sh", "-c", "echo child: ok"], capture_output=True, text=True)
print(child.stdout.strip() or f"child: exit {child.returncode}")
with open("/proc/self/status") as f:
    print(next(ln for ln in f if ln.startswith("Seccomp:")).strip())
sys.stdout.flush()
if got:
    sys.exit(f"made {', '.join(got)}")
