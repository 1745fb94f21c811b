/*
 * The seccomp filter of students' programs (docs/security.md): system
 * calls a lesson's program never needs and that reach other processes or
 * the kernel's rarer corners fail with EPERM (io_uring and clone3 with
 * ENOSYS, so that libraries fall back to what they did before).
 */
#ifndef SL_CELL_FILTER_H
#define SL_CELL_FILTER_H

/* Installs the filter on the calling thread (no_new_privs must be set).
 * Returns 0, or -1 with errno. */
int cell_filter_install(void);

#endif
