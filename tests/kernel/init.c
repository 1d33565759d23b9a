/* SPDX-License-Identifier: MIT */
/*
 * /init of the test initramfs (tests/kernel/run): mounts the pseudo file
 * systems, runs the program named by IOREGION_RUN (the kernel passes
 * unknown NAME=value arguments to init as its environment), prints its
 * exit status on a line the harness looks for, and powers the machine off.
 * Built statically for each architecture, so no shell is needed there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void init_mount(const char *type, const char *dir)
{
	mkdir(dir, 0755);
	if (mount(type, dir, type, 0, NULL) < 0 && errno != EBUSY)
		fprintf(stderr, "init: mount %s: %s\n", dir, strerror(errno));
}

static int init_run(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execl(path, path, (char *)NULL);
		fprintf(stderr, "init: %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 126;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(void)
{
	const char *run = getenv("IOREGION_RUN");
	int rc;

	init_mount("proc", "/proc");
	init_mount("sysfs", "/sys");
	init_mount("devtmpfs", "/dev");
	init_mount("tmpfs", "/run");
	init_mount("tmpfs", "/tmp");
	setenv("PATH", "/bin", 1);
	rc = run ? init_run(run) : 125;
	printf("ioregion-init: %s exited %d\n", run ? run : "(IOREGION_RUN unset)",
	       rc);
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
