/*
 * aerie-counter: the initramfs's first line, "initramfs: started cntvct=<N>
 * cntfrq=<F>". It reads the guest virtual counter (CNTVCT_EL0) and its
 * frequency (CNTFRQ_EL0), which Linux lets EL0 read. Aerie starts each VM's
 * virtual counter at 0 and QEMU's starts at 0 at reset, so under
 * `-icount shift=0` (1 instruction = 1 ns) N * 1e9 / F is the number of
 * instructions since the VM started: the boot benchmark's measure.
 *
 * Called as aerie-dcc it instead reads MDCCSR_EL0 without the backdoor
 * signature (Linux sets MDSCR_EL1.TDCC, so the process must get SIGILL), and
 * as aerie-brk it executes BRK #0 (SIGTRAP): what the hardware does must not
 * change under Aerie's backdoor.
 *
 * Freestanding (no libc): built with aarch64-linux-gnu-gcc -static -nostdlib.
 */

#include "freestanding.h"

/* Appends the decimal digits of v at p; returns the new end. */
static char *put_u64(char *p, unsigned long v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Whether string s ends with suffix t. */
static int ends_with(const char *s, const char *t)
{
	const char *a = s, *b = t;
	while (*a)
		a++;
	while (*b)
		b++;
	while (b > t) {
		if (a == s || *--a != *--b)
			return 0;
	}
	return 1;
}

/* The kernel's initial stack: argc, then argv[]. */
__asm__(".global _start\n_start:\n\tmov x0, sp\n\tb start_c\n");

void __attribute__((noreturn, used)) start_c(long *sp)
{
	unsigned long cnt, frq;
	char buf[96], *p = buf;
	const char *name = (const char *)sp[1];

	if (ends_with(name, "dcc")) {
		unsigned long v;
		__asm__ volatile("mov x7, xzr; mrs %0, mdccsr_el0" : "=r"(v) : : "x7");
		sys_exit(0);
	}
	if (ends_with(name, "brk")) {
		__asm__ volatile("brk #0");
		sys_exit(0);
	}

	/* ISB: the counter read must not be hoisted before earlier instructions. */
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(cnt));
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frq));
	p = put_str(p, "initramfs: started cntvct=");
	p = put_u64(p, cnt);
	p = put_str(p, " cntfrq=");
	p = put_u64(p, frq);
	*p++ = '\n';
	write_out(buf, p);
	sys_exit(0);
}
