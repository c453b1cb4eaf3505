/*
 * What the freestanding arm64 helpers in this directory share (they are
 * built with -nostdlib: no libc): Linux system calls and string building.
 */

#define SYS_write 64
#define SYS_exit 93

/* A Linux system call with up to six arguments (x8 = number, x0..x5). */
static inline long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}

#define sys3(nr, a, b, c) sys6(nr, a, b, c, 0, 0, 0)
#define sys5(nr, a, b, c, d, e) sys6(nr, a, b, c, d, e, 0)

static inline void __attribute__((noreturn)) sys_exit(long status)
{
	sys3(SYS_exit, status, 0, 0);
	__builtin_unreachable();
}

/* Copies the string s to p; returns the new end. */
static inline char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* Writes buf[0..end) to standard output. */
static inline void write_out(const char *buf, const char *end)
{
	sys3(SYS_write, 1, (long)buf, end - buf);
}
