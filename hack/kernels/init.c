// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * PID 1 of the test VM that hack/test-kernels.sh boots (built static: the
 * initramfs holds nothing else). It loads the modules the initramfs carries
 * (virtio, 9p, overlay: listed in /modules/order, dependencies first),
 * switches its root to the host's root filesystem, shared read-only over 9p,
 * with a tmpfs overlay on top (host binaries run unchanged; writes stay in
 * the VM), runs the script the kernel command line names in socklb_run=, and
 * powers the VM off when that ends, also when anything fails, so qemu always
 * exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEWROOT "/newroot"

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("socklb-vm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static __attribute__((noreturn)) void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	/* Only reached when reboot() failed: a panic ends the VM too (panic=-1, -no-reboot). */
	exit(1);
}

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *opts)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, opts) == 0)
		return 0;
	say("mount %s on %s (%s, %s): %s", src, dst, type, opts ? opts : "", strerror(errno));
	return -1;
}

static int load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0) {
		say("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) {
		say("load module %s: %s", path, strerror(errno));
		ret = -1;
	}
	close(fd);
	return ret;
}

static int load_modules(void)
{
	char line[256], path[300];
	FILE *f = fopen("/modules/order", "r");
	int ret = 0;

	if (!f) {
		say("open /modules/order: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		snprintf(path, sizeof(path), "/modules/%s", line);
		if (load_module(path))
			ret = -1;
	}
	fclose(f);
	return ret;
}

/* The host's root read-only, with a tmpfs upper layer: host binaries run unchanged, writes stay in the VM. */
static int mount_root(void)
{
	if (do_mount("hostroot", "/lower", "9p", MS_RDONLY, "trans=virtio,version=9p2000.L,msize=512000,cache=loose") ||
	    do_mount("tmpfs", "/rw", "tmpfs", 0, "mode=0755"))
		return -1;
	mkdir("/rw/upper", 0755);
	mkdir("/rw/work", 0755);
	if (do_mount("overlay", NEWROOT, "overlay", 0, "lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work"))
		return -1;
	if (do_mount("/dev", NEWROOT "/dev", NULL, MS_MOVE, NULL) ||
	    do_mount("/proc", NEWROOT "/proc", NULL, MS_MOVE, NULL) ||
	    do_mount("/sys", NEWROOT "/sys", NULL, MS_MOVE, NULL))
		return -1;
	/*
	 * PID 1 shares its root with the kernel's threads: switching its own
	 * root (not a child's) is what lets the kernel run the new root's
	 * /sbin/modprobe when a test needs a module (veth, bridge, ...).
	 */
	if (chdir(NEWROOT) || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/")) {
		say("switch the root to %s: %s", NEWROOT, strerror(errno));
		return -1;
	}
	return 0;
}

static int run(void)
{
	const char *cmd = getenv("socklb_run");
	int status;
	pid_t pid;

	if (!cmd) {
		say("no socklb_run= on the kernel command line");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		say("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execl("/bin/bash", "bash", cmd, "--guest", (char *)NULL);
		say("exec /bin/bash %s: %s", cmd, strerror(errno));
		_exit(127);
	}
	/* PID 1 reaps every orphan until the command itself ends. */
	for (;;) {
		pid_t done = wait(&status);

		if (done == pid)
			break;
		if (done < 0 && errno != EINTR) {
			say("wait: %s", strerror(errno));
			return -1;
		}
	}
	say("%s ended with status %d", cmd, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}

int main(void)
{
	int console;

	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("HOME", "/root", 1);
	if (do_mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) || do_mount("proc", "/proc", "proc", 0, NULL) ||
	    do_mount("sysfs", "/sys", "sysfs", 0, NULL))
		power_off();
	console = open("/dev/console", O_RDWR | O_NOCTTY);
	if (console < 0 || dup2(console, 0) < 0 || dup2(console, 1) < 0 || dup2(console, 2) < 0)
		power_off();
	if (console > 2)
		close(console);
	say("init started");
	if (load_modules() == 0 && mount_root() == 0)
		run();
	power_off();
}
