/*
 * aerie-hbpages: GuestRPC replies into pages Linux has not made writable yet.
 *
 * open-vm-tools' message.c receives a reply over the high-bandwidth port
 * straight into a buffer it has just allocated. Aerie writes that buffer by
 * translating the guest virtual address through the guest's own page tables,
 * which fails when Linux has not populated the page (a fresh mapping) or has
 * write-protected it (the shared zero page, copy-on-write after fork). Aerie
 * then fails the transfer with MESSAGE_STATUS_CPT; message.c retries from
 * RECVSIZE, is offered low bandwidth only, and stores the reply itself, so
 * Linux faults the pages in as usual.
 *
 * This program holds that conversation exactly as message.c does (DCC
 * transport: `mrs xzr, mdccsr_el0` with the signature in x7), asking for
 * guestinfo.configured (set in the VM's config) with the reply buffer in
 *   fresh: a private anonymous mapping never touched,
 *   again: the same buffer once more, now populated (no retry),
 *   zero:  one that has only been read (Linux maps the zero page),
 *   cow:   one written before fork(), while the child lives,
 * and prints "hbpages: <case>=<reply>/<retries> ...", retries counting the
 * CPT answers. Exit status 0, or 1 with "hbpages: FAIL <why>".
 *
 * Freestanding (no libc): built with aarch64-linux-gnu-gcc -static -nostdlib.
 */

#include "freestanding.h"

#define SYS_nanosleep 101
#define SYS_kill 129
#define SYS_clone 220
#define SYS_mmap 222
#define SYS_wait4 260

#define SIGKILL 9
#define SIGCHLD 17

#define PROT_RW 3
#define MAP_PRIVATE_ANON 0x22

#define MAGIC 0x564D5868UL
#define PORT_LB 0x5658UL
#define PORT_HB 0x5659UL
#define CMD_MESSAGE 30UL
/* x7: the signature, then the x86 I/O flags: size 4, IN, port in DX, string. */
#define X7_LB ((0x86UL << 32) | 0xeUL)
#define X7_HB_IN ((0x86UL << 32) | 0x1cUL)

#define MSG_OPEN 0UL
#define MSG_SENDSIZE 1UL
#define MSG_SENDPAYLOAD 2UL
#define MSG_RECVSIZE 3UL
#define MSG_RECVPAYLOAD 4UL
#define MSG_RECVSTATUS 5UL
#define MSG_CLOSE 6UL
#define ST_SUCCESS 0x1UL
#define ST_DORECV 0x2UL
#define ST_CPT 0x10UL
#define ST_HB 0x80UL
/* 'RPCI' with GUESTMSG_FLAG_COOKIE. */
#define RPCI_COOKIE (0x49435052UL | 0x80000000UL)

#define PAGE 4096UL
#define BUF_PAGES 2

/* One backdoor request: x0..x7 in, x0..x7 out. */
static void backdoor(unsigned long r[8])
{
	register unsigned long x0 __asm__("x0") = r[0];
	register unsigned long x1 __asm__("x1") = r[1];
	register unsigned long x2 __asm__("x2") = r[2];
	register unsigned long x3 __asm__("x3") = r[3];
	register unsigned long x4 __asm__("x4") = r[4];
	register unsigned long x5 __asm__("x5") = r[5];
	register unsigned long x6 __asm__("x6") = r[6];
	register unsigned long x7 __asm__("x7") = r[7];
	__asm__ volatile("mrs xzr, mdccsr_el0"
			 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4),
			   "+r"(x5), "+r"(x6), "+r"(x7)
			 :
			 : "memory");
	r[0] = x0, r[1] = x1, r[2] = x2, r[3] = x3;
	r[4] = x4, r[5] = x5, r[6] = x6, r[7] = x7;
}

struct chan {
	unsigned long id, high, low;
};

/* A low-bandwidth BDOOR_CMD_MESSAGE step; returns the status (ecx[31:16]). */
static unsigned long step(const struct chan *c, unsigned long op,
			  unsigned long ebx, unsigned long r[8])
{
	r[0] = MAGIC;
	r[1] = ebx;
	r[2] = (op << 16) | CMD_MESSAGE;
	r[3] = (c->id << 16) | PORT_LB;
	r[4] = c->high;
	r[5] = c->low;
	r[6] = 0;
	r[7] = X7_LB;
	backdoor(r);
	return (r[2] >> 16) & 0xffff;
}

static unsigned long slen(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	write_out(s, s + slen(s));
}

static void __attribute__((noreturn)) fail(const char *why)
{
	say("hbpages: FAIL ");
	say(why);
	say("\n");
	sys_exit(1);
}

/*
 * RpcOut_send as message.c does it: send `req` (from a stack copy, so its
 * pages are present), then receive the reply into `buf` (at most `cap`
 * bytes, NUL-terminated), retrying from the size step on CPT. Returns the
 * number of CPT retries.
 */
static int rpc(const struct chan *c, const char *req, char *buf, unsigned long cap)
{
	unsigned long r[8], len = slen(req), size, st, i;
	int retries = 0;

	if (!(step(c, MSG_SENDSIZE, len, r) & ST_SUCCESS))
		fail("SENDSIZE");
	/* Low bandwidth for the request: the reply is what this checks. */
	for (i = 0; i < len; i += 4) {
		unsigned long w = 0, k;
		for (k = 0; k < 4 && i + k < len; k++)
			w |= (unsigned long)(unsigned char)req[i + k] << (8 * k);
		if (!(step(c, MSG_SENDPAYLOAD, w, r) & ST_SUCCESS))
			fail("SENDPAYLOAD");
	}
retry:
	st = step(c, MSG_RECVSIZE, 0, r);
	if (!(st & ST_SUCCESS) || !(st & ST_DORECV))
		fail("RECVSIZE: no reply");
	size = r[1] & 0xffffffff;
	if (size + 1 > cap)
		fail("reply larger than the buffer");
	if (st & ST_HB) {
		r[0] = MAGIC;
		r[1] = ST_SUCCESS << 16;
		r[2] = size;
		r[3] = (c->id << 16) | PORT_HB;
		r[4] = c->high;
		r[5] = (unsigned long)buf;
		r[6] = c->low;
		r[7] = X7_HB_IN;
		backdoor(r);
		st = (r[1] >> 16) & 0xffff;
		if (!(st & ST_SUCCESS)) {
			if (st & ST_CPT) {
				if (++retries > 3)
					fail("CPT retries do not end");
				goto retry;
			}
			fail("HB IN");
		}
	} else {
		for (i = 0; i < size; i += 4) {
			unsigned long k;
			if (!(step(c, MSG_RECVPAYLOAD, ST_SUCCESS, r) & ST_SUCCESS))
				fail("RECVPAYLOAD");
			for (k = 0; k < 4 && i + k < size; k++)
				buf[i + k] = (char)(r[1] >> (8 * k));
		}
	}
	buf[size] = 0;
	if (!(step(c, MSG_RECVSTATUS, ST_SUCCESS, r) & ST_SUCCESS))
		fail("RECVSTATUS");
	return retries;
}

static char *mapping(void)
{
	long p = sys6(SYS_mmap, 0, BUF_PAGES * PAGE, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
	if (p < 0 && p > -4096)
		fail("mmap");
	return (char *)p;
}

/* Appends " <name>=<reply>/<retries>" for one conversation into buf. */
static char *one(char *p, const struct chan *c, const char *name, char *buf)
{
	int n = rpc(c, "info-get guestinfo.configured", buf, BUF_PAGES * PAGE);
	*p++ = ' ';
	p = put_str(p, name);
	*p++ = '=';
	p = put_str(p, buf);
	*p++ = '/';
	*p++ = '0' + n;
	return p;
}

/* The kernel's initial stack is not used: no arguments. */
__asm__(".global _start\n_start:\n\tb start_c\n");

void __attribute__((noreturn, used)) start_c(void)
{
	static char line[512];
	unsigned long r[8];
	struct chan c;
	char *p = put_str(line, "hbpages:");
	char *fresh = mapping(), *zero = mapping(), *cow = mapping();
	volatile char sink = 0;
	unsigned long i;
	long child;

	/* Message_Open with cookies. */
	c.id = c.high = c.low = 0;
	if (!(step(&c, MSG_OPEN, RPCI_COOKIE, r) & ST_SUCCESS))
		fail("OPEN");
	c.id = (r[3] >> 16) & 0xffff;
	c.high = r[4] & 0xffffffff;
	c.low = r[5] & 0xffffffff;

	p = one(p, &c, "fresh", fresh);
	/* Now populated by the retry's own stores: high bandwidth works. */
	p = one(p, &c, "again", fresh);

	for (i = 0; i < BUF_PAGES * PAGE; i += PAGE)
		sink += ((volatile char *)zero)[i];
	p = one(p, &c, "zero", zero);

	for (i = 0; i < BUF_PAGES * PAGE; i += PAGE)
		((volatile char *)cow)[i] = 1;
	/* fork(): the child sleeps until killed; meanwhile every private page
	 * of the parent is copy-on-write. */
	child = sys6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
	if (child == 0) {
		static const long ten_s[2] = {10, 0};
		sys3(SYS_nanosleep, (long)ten_s, 0, 0);
		sys_exit(0);
	}
	if (child < 0)
		fail("fork");
	p = one(p, &c, "cow", cow);
	sys3(SYS_kill, child, SIGKILL, 0);
	sys6(SYS_wait4, child, 0, 0, 0, 0, 0);

	if (!(step(&c, MSG_CLOSE, 0, r) & ST_SUCCESS))
		fail("CLOSE");
	*p++ = '\n';
	write_out(line, p);
	sys_exit(0);
}
