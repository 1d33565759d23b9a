/* SPDX-License-Identifier: MIT */
/*
 * Poll mode end to end, on the real daemon: two VMs busy at once are both
 * served right (none starves while the other keeps the daemon polling),
 * frames are served in poll windows (poll_hits), the daemon uses next to
 * no CPU once the guests stop, and a reload turns polling off in place
 * without closing the channels. Correctness and bounds, never speed.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"

#define OFFSETS 0x100		/* testdev: a read returns its offset */
#define READS 3000

static const char poll_config[] =
	"{\"regions\": ["
	"{\"name\": \"t0\", \"device\": \"testdev\", \"bus\": \"mmio\","
	" \"address\": 0, \"size\": 4096, \"vms\": [\"vm0\"], \"poll_us\": 1000},"
	"{\"name\": \"t1\", \"device\": \"testdev\", \"bus\": \"mmio\","
	" \"address\": 0, \"size\": 4096, \"vms\": [\"vm1\"], \"poll_us\": 1000}]}";

static const char off_config[] =
	"{\"daemon\": {\"poll_us\": 1000}, \"regions\": ["
	"{\"name\": \"t0\", \"device\": \"testdev\", \"bus\": \"mmio\","
	" \"address\": 0, \"size\": 4096, \"vms\": [\"vm0\"], \"poll_us\": 0},"
	"{\"name\": \"t1\", \"device\": \"testdev\", \"bus\": \"mmio\","
	" \"address\": 0, \"size\": 4096, \"vms\": [\"vm1\"], \"poll_us\": 0}]}";

/* n reads of every size at changing offsets, each checked. */
static void reads(int fd, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t off = OFFSETS + (i % 32) * 8;

		assert_int_equal(harness_read(fd, off, 8), off);
	}
}

/* The daemon's CPU time so far, in ns, all its threads. */
static uint64_t daemon_cpu_ns(const struct harness_daemon *hd)
{
	return harness_cpu_ns(hd->pid);
}

/* vm1's VMM, busy in a process of its own while vm0 is. */
static pid_t busy_vm1(const struct harness_daemon *hd)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct ioregion_client *c = harness_connect(hd, "vm1");
		int fd = harness_open(c, "t1");

		reads(fd, READS);
		_exit(0);
	}
	return pid;
}

static void test_two_busy_vms(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c;
	uint64_t cpu0, cpu;
	pid_t vm1;
	int fd, status;

	(void)state;
	harness_start(&hd, poll_config);
	c = harness_connect(&hd, "vm0");
	fd = harness_open(c, "t0");
	vm1 = busy_vm1(&hd);
	reads(fd, READS);
	assert_int_equal(waitpid(vm1, &status, 0), vm1);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Thousands of back-to-back accesses: most found by polling. */
	assert_true(harness_daemon_counter(&hd, "poll_hits") > 0);
	/* Idle again: every window runs out, and the daemon sleeps. */
	usleep(100000);
	cpu0 = daemon_cpu_ns(&hd);
	sleep(1);
	cpu = daemon_cpu_ns(&hd) - cpu0;
	if (cpu > 100000000ull)
		fail_msg("idle daemon used %llu ms of CPU in 1 s",
			 (unsigned long long)(cpu / 1000000));
	/* Every window ended: ran out, or cut short by another task. */
	assert_true(harness_daemon_counter(&hd, "poll_misses") +
		    harness_daemon_counter(&hd, "poll_preempted") > 0);
	reads(fd, 10);
	close(fd);
	ioregion_client_free(c);
	harness_stop(&hd);
}

/* A region's poll_us 0 wins over the daemon's; a reload that only changes
 * poll_us keeps the region, its channel and its device. */
static void test_reload_turns_polling_off(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c, *admin;
	uint64_t hits;
	int fd;

	(void)state;
	harness_start(&hd, poll_config);
	c = harness_connect(&hd, "vm0");
	fd = harness_open(c, "t0");
	reads(fd, 200);
	harness_write_config(&hd, off_config);
	admin = harness_connect(&hd, NULL);
	assert_int_equal(ioregion_client_reload(admin), 0);
	ioregion_client_free(admin);
	usleep(100000);
	hits = harness_daemon_counter(&hd, "poll_hits");
	reads(fd, 200);		/* the same channel, still open */
	assert_int_equal(harness_daemon_counter(&hd, "poll_hits"), hits);
	close(fd);
	ioregion_client_free(c);
	harness_stop(&hd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_busy_vms),
		cmocka_unit_test(test_reload_turns_polling_off),
	};

	return cmocka_run_group_tests_name("poll", tests, NULL, NULL);
}
