/* SPDX-License-Identifier: MIT */
/*
 * ioregiond started for real by systemd-socket-activate, as systemd starts
 * it from ioregiond.socket, with a NOTIFY_SOCKET this test listens on.
 */
#include "autoconfig.h"

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
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "control_io.h"
#include "harness.h"

struct activation {
	char dir[64], socket[128], notify[128], config[128], log[128];
	int notify_fd;
	pid_t pid;
};

static void activation_start(struct activation *a, const char *config)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char env[160];

	memset(a, 0, sizeof(*a));
	strcpy(a->dir, "/tmp/ioregiond-act-XXXXXX");
	assert_non_null(mkdtemp(a->dir));
	snprintf(a->socket, sizeof(a->socket), "%s/control.sock", a->dir);
	snprintf(a->notify, sizeof(a->notify), "%s/notify", a->dir);
	snprintf(a->config, sizeof(a->config), "%s/config.json", a->dir);
	snprintf(a->log, sizeof(a->log), "%s/log", a->dir);
	if (config) {
		FILE *f = fopen(a->config, "w");

		assert_non_null(f);
		fputs(config, f);
		fclose(f);
	}
	a->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, a->notify);
	assert_int_equal(bind(a->notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", a->notify);
	a->pid = fork();
	assert_true(a->pid >= 0);
	if (a->pid == 0) {
		harness_child_log(a->log, O_TRUNC);
		execlp("systemd-socket-activate", "systemd-socket-activate",
		       "--seqpacket", "-l", a->socket, "-E", env,
		       harness_binary(), "-v", config ? "-c" : "-v",
		       config ? a->config : "-v",
		       harness_poll_arg() ? harness_poll_arg() : "-v",
		       harness_workers_arg() ? harness_workers_arg() : "-v",
		       (char *)NULL);
		_exit(127);
	}
}

/* Waits for a notification containing what; false on timeout. */
static bool activation_notified(struct activation *a, const char *what,
				int timeout_ms)
{
	struct pollfd pfd = { .fd = a->notify_fd, .events = POLLIN };
	char buf[4096];
	ssize_t n;

	while (poll(&pfd, 1, timeout_ms) == 1) {
		n = recv(a->notify_fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			return false;
		buf[n] = '\0';
		if (strstr(buf, what))
			return true;
	}
	return false;
}

/* Waits for the notification "STATUS=<want>" exactly, skipping others. */
static void activation_status(struct activation *a, const char *want)
{
	struct pollfd pfd = { .fd = a->notify_fd, .events = POLLIN };
	char buf[4096], line[256];
	ssize_t n;

	snprintf(line, sizeof(line), "STATUS=%s", want);
	while (poll(&pfd, 1, 10000) == 1) {
		n = recv(a->notify_fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			break;
		buf[n] = '\0';
		if (strcmp(buf, line) == 0)
			return;
	}
	fail_msg("no \"%s\" notification", line);
}

/* The listening socket exists once systemd-socket-activate is up. */
static int activation_connect(struct activation *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), i;

	strcpy(sa.sun_path, a->socket);
	for (i = 0; i < 500; i++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		usleep(10000);
	}
	fail_msg("%s never appeared", a->socket);
	return -1;
}

static void activation_cleanup(struct activation *a)
{
	close(a->notify_fd);
	unlink(a->notify);
	unlink(a->config);
	unlink(a->log);
	unlink(a->socket);
	rmdir(a->dir);
}

static void test_ready_once_serving(void **state)
{
	struct activation a;
	struct ioregion_client *c = NULL;
	struct ioregion_region r;
	int fd, status;
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__Hello hello = IOR__HELLO__INIT;
	uint8_t buf[4096];
	struct pollfd pfd;

	activation_start(&a, NULL);
	/* The first connection starts the daemon; its hello is answered
	 * once the daemon serves, which is when READY=1 comes. */
	fd = activation_connect(&a);
	hello.major = IOR_CONTROL_MAJOR;
	hello.client_name = "activation";
	req.id = 1;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_HELLO;
	req.hello = &hello;
	assert_int_equal(control_send(fd, &req.base, -1), 0);
	assert_true(activation_notified(&a, "READY=1", 10000));
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true(recv(fd, buf, sizeof(buf), 0) > 0);
	close(fd);
	/* The daemon serves regions on the passed socket. */
	assert_int_equal(ioregion_client_connect(a.socket, "t", "vm0", &c), 0);
	assert_int_equal(ioregion_client_open(c, "test0", &r), 0);
	assert_int_equal(harness_read(r.fd, 0, 4), 0x494f5254);
	close(r.fd);
	ioregion_client_free(c);
	/* SIGTERM: STOPPING=1, a clean exit. */
	kill(a.pid, SIGTERM);
	assert_true(activation_notified(&a, "STOPPING=1", 10000));
	assert_int_equal(waitpid(a.pid, &status, 0), a.pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	activation_cleanup(&a);
}

/* STATUS= follows clients coming and going and regions plugged. */
static void test_status_stays_current(void **state)
{
	struct activation a;
	struct ioregion_client *c = NULL, *admin = NULL;
	int fd;

	activation_start(&a, NULL);
	fd = activation_connect(&a);
	activation_status(&a, "serving 6 regions to 1 client");
	close(fd);
	activation_status(&a, "serving 6 regions to 0 clients");
	assert_int_equal(ioregion_client_connect(a.socket, "t", "vm0", &c), 0);
	activation_status(&a, "serving 6 regions to 1 client");
	assert_int_equal(ioregion_client_connect(a.socket, "t", NULL, &admin), 0);
	activation_status(&a, "serving 6 regions to 2 clients");
	assert_int_equal(ioregion_client_plug(admin,
		"{\"name\":\"hot\",\"device\":\"ram\",\"bus\":\"mmio\","
		"\"address\":\"0xe0000000\",\"size\":1,\"vms\":[\"vm1\"]}"), 0);
	activation_status(&a, "serving 7 regions to 2 clients");
	assert_int_equal(ioregion_client_unplug(admin, "hot"), 0);
	activation_status(&a, "serving 6 regions to 2 clients");
	ioregion_client_free(admin);
	ioregion_client_free(c);
	activation_status(&a, "serving 6 regions to 0 clients");
	kill(a.pid, SIGTERM);
	assert_int_equal(waitpid(a.pid, NULL, 0), a.pid);
	activation_cleanup(&a);
}

static void test_no_ready_on_bad_config(void **state)
{
	struct activation a;
	int fd, status;

	activation_start(&a, "{ \"regions\": [ { \"name\": 7 } ] }");
	fd = activation_connect(&a);
	assert_false(activation_notified(&a, "READY=1", 3000));
	assert_int_equal(waitpid(a.pid, &status, 0), a.pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
	close(fd);
	activation_cleanup(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_once_serving),
		cmocka_unit_test(test_status_stays_current),
		cmocka_unit_test(test_no_ready_on_bad_config),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("socket activation", tests, NULL, NULL);
}
