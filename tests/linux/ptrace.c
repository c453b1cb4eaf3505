/*
 * aerie-ptrace: a debugger in guest user space, as gdb uses the kernel.
 * A child stops itself under PTRACE_TRACEME; the parent then
 *   1. single-steps it three times (each stop a SIGTRAP at a new PC),
 *   2. sets a hardware breakpoint on target() (NT_ARM_HW_BREAK) and
 *      continues: the child must stop with its PC at target(),
 *   3. swaps it for a store watchpoint on `watched` (NT_ARM_HW_WATCH): the
 *      child must stop with si_addr = &watched,
 *   4. clears it and lets the child exit 0.
 * It prints "ptrace: ok steps=3 breakpoint=<pc> watchpoint=<addr>" and exits
 * 0, or prints "ptrace: FAIL <why>" and exits 1. Under Aerie with a BRK
 * backdoor the debug exceptions reach Linux through Aerie's re-injection
 * (MDCR_EL2.TDE), and Linux's own MDSCR_EL1 writes around the step trap.
 *
 * Freestanding (no libc): built with aarch64-linux-gnu-gcc -static -nostdlib.
 */

#include "freestanding.h"

#define SYS_kill 129
#define SYS_getpid 172
#define SYS_clone 220
#define SYS_wait4 260
#define SYS_ptrace 117

#define PTRACE_TRACEME 0
#define PTRACE_CONT 7
#define PTRACE_SINGLESTEP 9
#define PTRACE_GETSIGINFO 0x4202
#define PTRACE_GETREGSET 0x4204
#define PTRACE_SETREGSET 0x4205
#define NT_PRSTATUS 1
#define NT_ARM_HW_BREAK 0x402
#define NT_ARM_HW_WATCH 0x403

#define SIGCHLD 17
#define SIGSTOP 19
#define SIGTRAP 5

/* Linux's arm64 hw_breakpoint control word: enabled, privilege EL0 (2),
 * type (execute 0, store 2), length mask. */
#define CTRL_EXEC_EL0_4 (1 | (2 << 1) | (0 << 3) | (0xf << 5))
#define CTRL_STORE_EL0_8 (1 | (2 << 1) | (2 << 3) | (0xff << 5))

struct iovec {
	void *base;
	unsigned long len;
};

struct user_pt_regs {
	unsigned long regs[31], sp, pc, pstate;
};

struct hwdebug {
	unsigned int dbg_info, pad;
	struct {
		unsigned long addr;
		unsigned int ctrl, pad;
	} regs[1];
};

volatile unsigned long watched;

void __attribute__((noinline, used)) target(void)
{
	__asm__ volatile("nop; nop");
	watched = 42;
}

static char *put_hex(char *p, unsigned long v)
{
	int shift = 60;
	p = put_str(p, "0x");
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = "0123456789abcdef"[(v >> shift) & 0xf];
	return p;
}

static void say(const char *a, unsigned long v, const char *b, unsigned long w)
{
	char buf[160], *p = buf;
	p = put_str(p, a);
	p = put_hex(p, v);
	if (b) {
		p = put_str(p, b);
		p = put_hex(p, w);
	}
	*p++ = '\n';
	write_out(buf, p);
}

static void __attribute__((noreturn)) fail(const char *why, unsigned long v)
{
	say(why, v, 0, 0);
	sys_exit(1);
}

static long ptrace(long req, long pid, long addr, long data)
{
	return sys5(SYS_ptrace, req, pid, addr, data, 0);
}

/* Waits for the child to stop with `sig`; fails otherwise. */
static void stopped_with(long pid, int sig, const char *what)
{
	int status = 0;
	if (sys5(SYS_wait4, pid, (long)&status, 0, 0, 0) != pid)
		fail("ptrace: FAIL wait4 for ", 0);
	if ((status & 0xff) != 0x7f || ((status >> 8) & 0xff) != sig)
		fail(what, (unsigned long)status);
}

static unsigned long child_pc(long pid)
{
	struct user_pt_regs r;
	struct iovec iov = { &r, sizeof r };
	if (ptrace(PTRACE_GETREGSET, pid, NT_PRSTATUS, (long)&iov) != 0)
		fail("ptrace: FAIL GETREGSET ", 0);
	return r.pc;
}

static void set_point(long pid, long type, unsigned long addr, unsigned ctrl)
{
	struct hwdebug hw = { 0 };
	struct iovec iov = { &hw, sizeof hw };
	hw.regs[0].addr = addr;
	hw.regs[0].ctrl = ctrl;
	long r = ptrace(PTRACE_SETREGSET, pid, type, (long)&iov);
	if (r != 0)
		fail("ptrace: FAIL SETREGSET errno=", (unsigned long)-r);
}

__asm__(".global _start\n_start:\n\tb start_c\n");

void __attribute__((noreturn, used)) start_c(void)
{
	long pid = sys5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		sys5(SYS_kill, sys5(SYS_getpid, 0, 0, 0, 0, 0), SIGSTOP, 0, 0, 0);
		/* Room for the three steps before target() is reached. */
		__asm__ volatile("nop; nop; nop; nop; nop; nop; nop; nop");
		target();
		sys_exit(0);
	}
	if (pid < 0)
		fail("ptrace: FAIL clone errno=", (unsigned long)-pid);
	stopped_with(pid, SIGSTOP, "ptrace: FAIL first stop, status=");

	unsigned long pc = child_pc(pid);
	for (int i = 0; i < 3; i++) {
		if (ptrace(PTRACE_SINGLESTEP, pid, 0, 0) != 0)
			fail("ptrace: FAIL SINGLESTEP ", i);
		stopped_with(pid, SIGTRAP, "ptrace: FAIL step stop, status=");
		unsigned long next = child_pc(pid);
		if (next == pc)
			fail("ptrace: FAIL a step did not move from ", pc);
		pc = next;
	}

	set_point(pid, NT_ARM_HW_BREAK, (unsigned long)target, CTRL_EXEC_EL0_4);
	ptrace(PTRACE_CONT, pid, 0, 0);
	stopped_with(pid, SIGTRAP, "ptrace: FAIL breakpoint stop, status=");
	unsigned long bp_pc = child_pc(pid);
	if (bp_pc != (unsigned long)target)
		fail("ptrace: FAIL breakpoint stop at ", bp_pc);
	set_point(pid, NT_ARM_HW_BREAK, 0, 0);

	set_point(pid, NT_ARM_HW_WATCH, (unsigned long)&watched, CTRL_STORE_EL0_8);
	ptrace(PTRACE_CONT, pid, 0, 0);
	stopped_with(pid, SIGTRAP, "ptrace: FAIL watchpoint stop, status=");
	unsigned long info[16];
	if (ptrace(PTRACE_GETSIGINFO, pid, 0, (long)info) != 0)
		fail("ptrace: FAIL GETSIGINFO ", 0);
	/* siginfo: si_signo, si_errno, si_code (ints), then si_addr at 16. */
	if (info[2] != (unsigned long)&watched)
		fail("ptrace: FAIL watchpoint si_addr=", info[2]);
	set_point(pid, NT_ARM_HW_WATCH, 0, 0);

	ptrace(PTRACE_CONT, pid, 0, 0);
	int status = 0;
	sys5(SYS_wait4, pid, (long)&status, 0, 0, 0);
	if (status != 0)
		fail("ptrace: FAIL child exit status=", (unsigned long)status);
	say("ptrace: ok steps=3 breakpoint=", bp_pc, " watchpoint=", info[2]);
	sys_exit(0);
}
