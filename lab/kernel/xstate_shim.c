/*
 * LD_PRELOAD shim for Debian's User-Mode Linux 6.1 on CPUs whose XSAVE area is larger than
 * the buffer UML uses (AMX: 11,008 bytes).
 *
 * UML restores a process's FPU state with PTRACE_SETREGSET(NT_X86_XSTATE) from a buffer sized
 * at boot for the features it knows. The host kernel accepts that write only at the full size
 * of its own XSAVE layout and fails anything shorter with EFAULT, so UML panics at boot
 * ("ptrace set fp regs failed, errno = 14"). Upstream fixed UML in 2024; Debian 12's kernel
 * predates the fix.
 *
 * This wrapper completes a short write: it reads the tracee's full current state, lays UML's
 * bytes over its start (legacy area, XSAVE header and the components UML knows, all at their
 * standard offsets) and writes the full buffer. Components UML does not know keep the values
 * the tracee already had. Writes of the right size, and every other request, pass through.
 * Never make UML's XSTATE probe fail instead (its FXSAVE fallback corrupts user space).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* Larger than any XSAVE layout the host reports (the architecture caps CPUID 0xD sizes well below). */
#define XSTATE_MAX (64 * 1024)

typedef long (*ptrace_fn)(enum __ptrace_request, pid_t, void *, void *);

static ptrace_fn real_ptrace(void)
{
    static ptrace_fn fn;
    if (!fn)
        fn = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
    return fn;
}

static long set_full_xstate(pid_t pid, void *addr, const struct iovec *short_iov)
{
    static unsigned char full[XSTATE_MAX];
    struct iovec iov = { .iov_base = full, .iov_len = sizeof(full) };
    long rc = real_ptrace()(PTRACE_GETREGSET, pid, addr, &iov);
    if (rc < 0 || iov.iov_len <= short_iov->iov_len)
        return real_ptrace()(PTRACE_SETREGSET, pid, addr, (void *)short_iov);
    memcpy(full, short_iov->iov_base, short_iov->iov_len);
    return real_ptrace()(PTRACE_SETREGSET, pid, addr, &iov);
}

long ptrace(enum __ptrace_request request, ...)
{
    va_list ap;
    va_start(ap, request);
    pid_t pid = va_arg(ap, pid_t);
    void *addr = va_arg(ap, void *);
    void *data = va_arg(ap, void *);
    va_end(ap);

    if (request == PTRACE_SETREGSET && (unsigned long)addr == NT_X86_XSTATE && data) {
        long rc = set_full_xstate(pid, addr, (const struct iovec *)data);
        return rc;
    }
    return real_ptrace()(request, pid, addr, data);
}
