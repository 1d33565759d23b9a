/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "control_io.h"
#include "harness.h"

const char *harness_binary(void)
{
	const char *bin = getenv("IOREGIOND");

	return bin ? bin : "./ioregiond";
}

void harness_write_config(struct harness_daemon *hd, const char *json)
{
	FILE *f = fopen(hd->config, "w");

	assert_non_null(f);
	assert_int_equal(fputs(json, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static bool harness_answers(const struct harness_daemon *hd)
{
	struct ioregion_client *c = NULL;
	int rc = ioregion_client_connect(hd->socket, "harness", NULL, &c);

	ioregion_client_free(c);
	return rc == 0;
}

void harness_prepare(struct harness_daemon *hd, const char *config_json)
{
	memset(hd, 0, sizeof(*hd));
	strcpy(hd->dir, "/tmp/ioregiond-test-XXXXXX");
	assert_non_null(mkdtemp(hd->dir));
	snprintf(hd->socket, sizeof(hd->socket), "%s/control.sock", hd->dir);
	snprintf(hd->config, sizeof(hd->config), "%s/config.json", hd->dir);
	snprintf(hd->log, sizeof(hd->log), "%s/daemon.log", hd->dir);
	hd->stdout_fd = hd->stderr_fd = -1;
	if (config_json)
		harness_write_config(hd, config_json);
}

void harness_child_log(const char *path, int extra_flags)
{
	int log = open(path, O_WRONLY | O_CREAT | extra_flags, 0644);

	dup2(log, STDOUT_FILENO);
	dup2(log, STDERR_FILENO);
	close(log);
}

const char *harness_poll_arg(void)
{
	static char arg[64];
	const char *us = getenv("IOREGIOND_TEST_POLL_US");

	if (!us || !*us)
		return NULL;
	snprintf(arg, sizeof(arg), "--poll-us=%s", us);
	return arg;
}

const char *harness_workers_arg(void)
{
	static char arg[64];
	const char *n = getenv("IOREGIOND_TEST_WORKERS");

	if (!n || !*n)
		return NULL;
	snprintf(arg, sizeof(arg), "--workers=%s", n);
	return arg;
}

void harness_launch(struct harness_daemon *hd)
{
	bool with_config = access(hd->config, F_OK) == 0;
	const char *argv[10];
	int i, argc = 0;

	hd->pid = fork();
	assert_true(hd->pid >= 0);
	if (hd->pid == 0) {
		harness_child_log(hd->log, O_TRUNC);
		if (hd->stderr_fd >= 0)
			dup2(hd->stderr_fd, STDERR_FILENO);
		if (hd->stdout_fd >= 0)
			dup2(hd->stdout_fd, STDOUT_FILENO);
		argv[argc++] = "ioregiond";
		argv[argc++] = "-v";
		argv[argc++] = "-s";
		argv[argc++] = hd->socket;
		if (with_config) {
			argv[argc++] = "-c";
			argv[argc++] = hd->config;
		}
		if (harness_poll_arg())
			argv[argc++] = harness_poll_arg();
		if (harness_workers_arg())
			argv[argc++] = harness_workers_arg();
		argv[argc] = NULL;
		execv(harness_binary(), (char *const *)argv);
		_exit(127);
	}
	/* Generous: a sanitizer build on a busy machine loads a config of
	 * thousands of regions in seconds. */
	for (i = 0; i < 2000; i++) {
		if (harness_answers(hd))
			return;
		usleep(10000);
	}
	fail_msg("ioregiond did not start; see %s", hd->log);
}

void harness_start(struct harness_daemon *hd, const char *config_json)
{
	harness_prepare(hd, config_json);
	harness_launch(hd);
}

bool harness_alive(const struct harness_daemon *hd)
{
	return waitpid(hd->pid, NULL, WNOHANG) == 0;
}

void harness_stop(struct harness_daemon *hd)
{
	int status, i;

	assert_true(harness_alive(hd));
	kill(hd->pid, SIGTERM);
	for (i = 0; i < 500 && waitpid(hd->pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	if (i == 500) {
		kill(hd->pid, SIGKILL);
		waitpid(hd->pid, &status, 0);
		fail_msg("ioregiond did not stop on SIGTERM");
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* It removes the socket it created. */
	assert_int_equal(access(hd->socket, F_OK), -1);
	if (!getenv("HARNESS_KEEP")) {
		unlink(hd->config);
		unlink(hd->log);
		rmdir(hd->dir);
	}
}

int harness_fd_count(const struct harness_daemon *hd)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)hd->pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

int harness_fd_count_settled(const struct harness_daemon *hd)
{
	int last = -1, same = 0, n;

	/* Connections the harness itself made are closed asynchronously. */
	while (same < 5) {
		n = harness_fd_count(hd);
		same = n == last ? same + 1 : 0;
		last = n;
		usleep(20000);
	}
	return last;
}

void harness_wait_fd_count(const struct harness_daemon *hd, int want)
{
	char cmd[128];
	int i;

	for (i = 0; i < 300; i++) {
		if (harness_fd_count(hd) == want)
			return;
		usleep(10000);
	}
	snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2", (int)hd->pid);
	if (system(cmd) != 0)
		fail_msg("cannot list the daemon's fds");
	fail_msg("daemon holds %d fds, expected %d", harness_fd_count(hd), want);
}

long harness_rss_kib(const struct harness_daemon *hd)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)hd->pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

struct ioregion_client *harness_connect(const struct harness_daemon *hd,
					const char *vm)
{
	struct ioregion_client *c = NULL;
	int rc = ioregion_client_connect(hd->socket, "harness", vm, &c);

	if (rc < 0)
		fail_msg("connect as %s: %s", vm ? vm : "admin",
			 c ? ioregion_client_error(c) : strerror(-rc));
	return c;
}

static int harness_tis_read(void *ctx, uint64_t off, unsigned int size,
			    uint64_t *v)
{
	*v = harness_read(*(int *)ctx, off, size);
	return 0;
}

static int harness_tis_write(void *ctx, uint64_t off, unsigned int size,
			     uint64_t v)
{
	harness_write(*(int *)ctx, off, size, v);
	return 0;
}

struct tis_io harness_tis_io(int *fd)
{
	return (struct tis_io){ harness_tis_read, harness_tis_write, NULL, fd };
}

/* Whether every thread of pid is stopped ('T' in its stat). */
static bool harness_all_stopped(pid_t pid)
{
	char path[320], stat[512], *state;
	struct dirent *e;
	bool stopped = true;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	assert_non_null(dir);
	while (stopped && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid,
			 e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(stat, sizeof(stat), f) &&
		    (state = strrchr(stat, ')')) && state[1] == ' ')
			stopped = state[2] == 'T' || state[2] == 't';
		fclose(f);
	}
	closedir(dir);
	return stopped;
}

void harness_freeze(const struct harness_daemon *hd)
{
	int i;

	assert_int_equal(kill(hd->pid, SIGSTOP), 0);
	for (i = 0; i < 5000 && !harness_all_stopped(hd->pid); i++)
		usleep(1000);
	assert_true(harness_all_stopped(hd->pid));
}

uint64_t harness_cpu_ns(pid_t pid)
{
	char path[320];
	unsigned long long ns, sum = 0;
	struct dirent *e;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat",
			 (int)pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;	/* a thread that just ended */
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(dir);
	return sum;
}

json_t *harness_stats(struct ioregion_client *c, const char *vm)
{
	json_t *root;
	char *text;

	assert_int_equal(ioregion_client_stats(c, vm, &text), 0);
	root = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(root);
	return root;
}

uint64_t harness_daemon_counter(const struct harness_daemon *hd,
				const char *name)
{
	struct ioregion_client *admin = harness_connect(hd, NULL);
	json_t *root = harness_stats(admin, NULL);
	json_t *v = json_object_get(json_object_get(root, "daemon"), name);
	uint64_t n;

	assert_non_null(v);
	n = (uint64_t)json_integer_value(v);
	json_decref(root);
	ioregion_client_free(admin);
	return n;
}

int harness_open(struct ioregion_client *c, const char *region)
{
	struct ioregion_region r;
	int rc = ioregion_client_open(c, region, &r);

	if (rc < 0)
		fail_msg("open %s: %s", region, ioregion_client_error(c));
	return r.fd;
}

void harness_send_frame(int fd, const struct ioregion_cmd *cmd)
{
	assert_int_equal(write(fd, cmd, sizeof(*cmd)), sizeof(*cmd));
}

bool harness_recv_resp(int fd, struct ioregion_resp *resp, int timeout_ms)
{
	size_t got = 0;

	while (got < sizeof(*resp)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) != 1)
			return false;
		n = read(fd, (char *)resp + got, sizeof(*resp) - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static struct ioregion_cmd harness_cmd(uint8_t cmd, uint64_t offset,
				       unsigned int size, bool resp,
				       uint64_t v)
{
	return ioregion_cmd_make(cmd, (unsigned int)ioregion_size_exp(size),
				 resp, 0, offset, v);
}

uint64_t harness_read(int fd, uint64_t offset, unsigned int size)
{
	struct ioregion_cmd c = harness_cmd(IOREGION_CMD_READ, offset, size,
					    true, 0);
	struct ioregion_resp r;

	harness_send_frame(fd, &c);
	if (!harness_recv_resp(fd, &r, 5000))
		fail_msg("no response to a read at 0x%llx",
			 (unsigned long long)offset);
	return r.data;
}

void harness_write(int fd, uint64_t offset, unsigned int size, uint64_t v)
{
	struct ioregion_cmd c = harness_cmd(IOREGION_CMD_WRITE, offset, size,
					    true, v);
	struct ioregion_resp r;

	harness_send_frame(fd, &c);
	if (!harness_recv_resp(fd, &r, 5000))
		fail_msg("no response to a write at 0x%llx",
			 (unsigned long long)offset);
}

void harness_post(int fd, uint64_t offset, unsigned int size, uint64_t v)
{
	struct ioregion_cmd c = harness_cmd(IOREGION_CMD_WRITE, offset, size,
					    false, v);

	harness_send_frame(fd, &c);
}

void harness_assert_default_vms_alive(const struct harness_daemon *hd)
{
	static const char *const vms[] = { "vm0", "vm1" };
	unsigned int i;

	assert_true(harness_alive(hd));
	for (i = 0; i < 2; i++) {
		struct ioregion_client *c = harness_connect(hd, vms[i]);
		struct ioregion_region *regions;
		int n = ioregion_client_list(c, NULL, &regions);
		int j;

		assert_true(n > 0);
		for (j = 0; j < n; j++) {
			struct ioregion_region r;
			int rc = ioregion_client_open(c, regions[j].name, &r);

			/* A region a test holds open answers EBUSY: still
			 * served, just not free to open twice. */
			if (rc == -EBUSY)
				continue;
			assert_int_equal(rc, 0);
			if (strcmp(r.device, "testdev") == 0)
				assert_int_equal(harness_read(r.fd, 0, 4),
						 0x494f5254);
			else if (strcmp(r.device, "mailbox") == 0)
				assert_int_equal(harness_read(r.fd, 0, 4),
						 0x584f424d);
			else if (strcmp(r.device, "uart16550") == 0)
				assert_int_equal(harness_read(r.fd, 5, 1) & 0x60,
						 0x60);
			else
				(void)harness_read(r.fd, 0, 4);
			assert_int_equal(ioregion_client_close_region(c, r.name), 0);
			close(r.fd);
		}
		free(regions);
		ioregion_client_free(c);
	}
}

int harness_raw_connect(const struct harness_daemon *hd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	strcpy(sa.sun_path, hd->socket);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

int harness_raw_reply(int fd)
{
	static uint8_t buf[IOR_CONTROL_MAX_PACKET];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	Ior__ServerMessage *m;
	ssize_t n;
	int code;

	assert_int_equal(poll(&pfd, 1, 5000), 1);
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return -1;
	m = ior__server_message__unpack(NULL, (size_t)n, buf);
	assert_non_null(m);
	code = m->body_case == IOR__SERVER_MESSAGE__BODY_ERROR ? m->error->code : 0;
	ior__server_message__free_unpacked(m, NULL);
	return code;
}

void harness_raw_hello(int fd, unsigned int major, const char *vm)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__Hello hello = IOR__HELLO__INIT;

	hello.major = major;
	hello.client_name = "raw";
	hello.vm_name = (char *)vm;
	req.id = 1;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_HELLO;
	req.hello = &hello;
	assert_int_equal(control_send(fd, &req.base, -1), 0);
}
