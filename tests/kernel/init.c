/* SPDX-License-Identifier: MIT */
/*
 * /init of the test initramfs (tests/kernel/run): mounts the pseudo file
 * systems, runs the program named by IOREGION_RUN (the kernel passes
 * unknown NAME=value arguments to init as its environment), prints its
 * exit status on a line the harness looks for, and powers the machine off.
 * IOREGION_RUN=@FILE runs each line of FILE in turn instead, a program and
 * its arguments separated by spaces (the upstream KVM selftests, which
 * need arguments, on machines without a shell), with a status line each.
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

#define INIT_MAX_ARGS 16

static int init_run(char *const argv[])
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		fprintf(stderr, "init: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 126;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs one line of a list; returns its status (the line is printed as is). */
static int init_run_line(char *line)
{
	char *argv[INIT_MAX_ARGS + 1], *save = NULL, *arg;
	int n = 0;

	for (arg = strtok_r(line, " \t\n", &save); arg && n < INIT_MAX_ARGS;
	     arg = strtok_r(NULL, " \t\n", &save))
		argv[n++] = arg;
	argv[n] = NULL;
	return n ? init_run(argv) : 0;
}

/* Runs every line of the list FILE; returns how many failed (125: no list). */
static int init_run_list(const char *file)
{
	char line[512], shown[512];
	int failed = 0, rc;
	FILE *f = fopen(file, "r");

	if (!f) {
		fprintf(stderr, "init: %s: %s\n", file, strerror(errno));
		return 125;
	}
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(shown, sizeof(shown), "%s", line);
		printf("ioregion-init: running %s\n", shown);
		rc = init_run_line(line);
		printf("ioregion-init: %s exited %d\n", shown, rc);
		failed += rc != 0;
	}
	fclose(f);
	return failed;
}

int main(void)
{
	char *run = getenv("IOREGION_RUN");
	char *argv[] = { run, NULL };
	int rc;

	init_mount("proc", "/proc");
	init_mount("sysfs", "/sys");
	init_mount("devtmpfs", "/dev");
	init_mount("tmpfs", "/run");
	init_mount("tmpfs", "/tmp");
	setenv("PATH", "/bin", 1);
	if (!run)
		rc = 125;
	else if (run[0] == '@')
		rc = init_run_list(run + 1);
	else
		rc = init_run(argv);
	printf("ioregion-init: %s exited %d\n", run ? run : "(IOREGION_RUN unset)",
	       rc);
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
