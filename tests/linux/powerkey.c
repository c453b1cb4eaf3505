/*
 * aerie-powerkey: powers the VM off when its power key is pressed, as
 * systemd-logind or acpid would in a full distribution, so a VM whose
 * power button is pressed (QEMU's `system_powerdown` natively; under Aerie
 * `Ctrl-A b`, a user world, or the machine's own power button) shuts down
 * cleanly. The key comes from gpio-keys on the PL061's pin 3, through
 * evdev: the first /dev/input/eventN that reports KEY_POWER is watched.
 *
 * It prints "powerkey: watching /dev/input/eventN" and then leaves a child
 * watching and exits 0, so the initramfs goes on only once the key is
 * watched (and that line comes before the shell's prompt). On the press
 * the child prints "powerkey: KEY_POWER pressed, powering off" and runs
 * busybox's `poweroff` (an orderly shutdown through init). Exits 1 with
 * "powerkey: FAIL <why>" if no device has the key.
 *
 * Freestanding (no libc): built with aarch64-linux-gnu-gcc -static -nostdlib.
 */

#include "freestanding.h"

#define SYS_ioctl 29
#define SYS_openat 56
#define SYS_close 57
#define SYS_read 63
#define SYS_clone 220
#define SYS_execve 221

#define SIGCHLD 17

#define AT_FDCWD -100
#define O_RDONLY 0

#define EV_KEY 1
#define KEY_POWER 116
/* EVIOCGBIT(EV_KEY, 16): _IOC(_IOC_READ, 'E', 0x20 + EV_KEY, 16), the
 * first 128 key bits. */
#define EVIOCGBIT_KEY_16 0x80104521UL

/* struct input_event on arm64: a 16-byte timeval, then type, code, value. */
struct input_event {
	unsigned long sec, usec;
	unsigned short type, code;
	int value;
};

static void say(const char *a, const char *b)
{
	char buf[96], *p = buf;
	p = put_str(p, "powerkey: ");
	p = put_str(p, a);
	p = put_str(p, b);
	*p++ = '\n';
	write_out(buf, p);
}

/* Opens /dev/input/eventN for the first N whose device has KEY_POWER;
 * leaves its name in path. */
static long open_power_key(char *path)
{
	for (int n = 0; n < 10; n++) {
		char *p = put_str(path, "/dev/input/event");
		*p++ = '0' + n;
		*p = 0;
		long fd = sys3(SYS_openat, AT_FDCWD, (long)path, O_RDONLY);
		if (fd < 0)
			continue;
		unsigned char bits[16] = {0};
		if (sys3(SYS_ioctl, fd, EVIOCGBIT_KEY_16, (long)bits) >= 0 &&
		    (bits[KEY_POWER / 8] >> (KEY_POWER % 8)) & 1)
			return fd;
		sys3(SYS_close, fd, 0, 0);
	}
	return -1;
}

__asm__(".global _start\n_start:\n\tb start_c\n");

void __attribute__((noreturn, used)) start_c(void)
{
	char path[32];
	long fd = open_power_key(path);
	if (fd < 0) {
		say("FAIL no input device reports KEY_POWER", "");
		sys_exit(1);
	}
	say("watching ", path);
	/* fork(): the parent reports that the key is watched. */
	long pid = sys5(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) {
		say("FAIL fork", "");
		sys_exit(1);
	}
	if (pid > 0)
		sys_exit(0);
	for (;;) {
		struct input_event ev;
		long n = sys3(SYS_read, fd, (long)&ev, sizeof(ev));
		if (n != sizeof(ev)) {
			say("FAIL reading ", path);
			sys_exit(1);
		}
		if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1)
			break;
	}
	say("KEY_POWER pressed, powering off", "");
	const char *argv[] = {"poweroff", 0};
	const char *envp[] = {0};
	sys3(SYS_execve, (long)"/bin/busybox", (long)argv, (long)envp);
	say("FAIL running poweroff", "");
	sys_exit(1);
}
