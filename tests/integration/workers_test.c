/* SPDX-License-Identifier: MIT */
/*
 * Worker threads end to end, on the real daemon with 2 workers whatever
 * the tier asks ($IOREGIOND_TEST_WORKERS is dropped here): the stats say
 * which thread serves each channel, so the tests check their VMs really
 * are where they need them. Two VMs on different workers exchange
 * thousands of messages through one shared mailbox at once, with its
 * interrupts, and none is lost, doubled or reordered; one worker is the
 * main thread alone. (A flood leaving other channels their turn:
 * test_pollset's test_flood_yields.)
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "control_io.h"
#include "harness.h"

#define MBOX_TX 0x10
#define MBOX_RX 0x18
#define MBOX_DEPTH 0x24
#define MBOX_STATUS 0x28
#define MBOX_DEST_FULL 0x4u
#define MBOX_IRQ 5
#define MESSAGES 3000
/* Round trips are counted in ROUNDS windows of ROUND_MS without a
 * control flood, each followed by one with it: interleaved, so the noise
 * of a shared machine falls on both alike. */
#define ROUNDS 5
#define ROUND_MS 150
/* Control requests a flooding client sends before reading the replies,
 * and how often: 32 per ms, beyond the 15-25k a second at which a
 * reviewer saw guests lose 50-85% of their round trips when each request
 * paused the workers. Paced, so that the flood's own CPU time, the same
 * whatever the daemon does with it, leaves the guest its share of the 2
 * CPUs a test may have. */
#define FLOOD_BURST 16
#define FLOOD_BURST_US 500

static const char workers_config[] =
	"{\"daemon\": {\"workers\": %u}, \"regions\": ["
	"{\"name\": \"mbox\", \"device\": \"mailbox\", \"bus\": \"mmio\","
	" \"address\": 0, \"size\": 4096, \"vms\": [\"vm0\", \"vm1\"],"
	" \"irq\": 5, \"options\": {\"depth\": 1024}}]}";

static void start(struct harness_daemon *hd, unsigned int workers)
{
	char json[sizeof(workers_config) + 16];

	snprintf(json, sizeof(json), workers_config, workers);
	harness_start(hd, json);
}

static int setup_two(void **state)
{
	struct harness_daemon *hd = calloc(1, sizeof(*hd));

	start(hd, 2);
	*state = hd;
	return 0;
}

static int teardown(void **state)
{
	struct harness_daemon *hd = *state;

	harness_stop(hd);
	free(hd);
	return 0;
}

/* The region record of vm's region in the stats. */
static json_t *region_stats(json_t *root, const char *vm, const char *region)
{
	json_t *v, *r;
	size_t i, j;

	json_array_foreach(json_object_get(root, "vms"), i, v) {
		if (strcmp(json_string_value(json_object_get(v, "name")), vm))
			continue;
		json_array_foreach(json_object_get(v, "regions"), j, r)
			if (!strcmp(json_string_value(json_object_get(r, "name")),
				    region))
				return r;
	}
	return NULL;
}

/* Which thread serves vm's open region: 0 main, 1.. a worker. */
static int served_by(const struct harness_daemon *hd, const char *vm,
		     const char *region)
{
	struct ioregion_client *admin = harness_connect(hd, NULL);
	json_t *root = harness_stats(admin, NULL);
	json_t *r = region_stats(root, vm, region);
	int w;

	assert_non_null(r);
	assert_non_null(json_object_get(r, "worker"));
	w = (int)json_integer_value(json_object_get(r, "worker"));
	json_decref(root);
	ioregion_client_free(admin);
	return w;
}

static uint64_t device_counter(const struct harness_daemon *hd,
			       const char *vm, const char *region,
			       const char *name)
{
	struct ioregion_client *admin = harness_connect(hd, NULL);
	json_t *root = harness_stats(admin, NULL);
	json_t *r = region_stats(root, vm, region);
	uint64_t n;

	assert_non_null(r);
	n = (uint64_t)json_integer_value(
		json_object_get(json_object_get(r, "device"), name));
	json_decref(root);
	ioregion_client_free(admin);
	return n;
}

/* In a child: sends MESSAGES to the peer while taking the peer's from its
 * own inbox, in order; exits 0 when every one came once, in order, and
 * the interrupt line fired. */
static void exchange(int mbox, int irq, unsigned int self)
{
	uint64_t want = 0, sent = 0, msg, edges = 0;

	while (want < MESSAGES || sent < MESSAGES) {
		if (sent < MESSAGES &&
		    !(harness_read(mbox, MBOX_STATUS, 4) & MBOX_DEST_FULL)) {
			harness_write(mbox, MBOX_TX, 8,
				      (uint64_t)self << 32 | sent);
			sent++;
		}
		while (harness_read(mbox, MBOX_DEPTH, 4) > 0) {
			msg = harness_read(mbox, MBOX_RX, 8);
			if (msg != ((uint64_t)!self << 32 | want)) {
				fprintf(stderr, "vm%u: got 0x%llx, wanted #%llu\n",
					self, (unsigned long long)msg,
					(unsigned long long)want);
				_exit(1);
			}
			want++;
		}
	}
	if (eventfd_read(irq, &edges) < 0 || edges == 0) {
		fprintf(stderr, "vm%u: no interrupt\n", self);
		_exit(2);
	}
	_exit(0);
}

static pid_t exchange_in_child(int mbox, int irq, unsigned int self)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		exchange(mbox, irq, self);
	return pid;
}

static void assert_exit_0(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The shared mailbox with its two VMs on different workers, both busy at
 * once: the device's entry points and its interrupts to the other
 * worker's VM stay right. */
static void test_mailbox_across_workers(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c0 = harness_connect(hd, "vm0");
	struct ioregion_client *c1 = harness_connect(hd, "vm1");
	int m0 = harness_open(c0, "mbox"), m1 = harness_open(c1, "mbox");
	int e0, e1, w0, w1;
	pid_t p0, p1;

	assert_int_equal(ioregion_client_open_irq(c0, MBOX_IRQ, &e0), 0);
	assert_int_equal(ioregion_client_open_irq(c1, MBOX_IRQ, &e1), 0);
	w0 = served_by(hd, "vm0", "mbox");
	w1 = served_by(hd, "vm1", "mbox");
	assert_true(w0 >= 1 && w1 >= 1);
	assert_int_not_equal(w0, w1);

	p0 = exchange_in_child(m0, e0, 0);
	p1 = exchange_in_child(m1, e1, 1);
	assert_exit_0(p0);
	assert_exit_0(p1);
	assert_int_equal(device_counter(hd, "vm0", "mbox", "overflows"), 0);
	assert_int_equal(device_counter(hd, "vm1", "mbox", "overflows"), 0);
	close(e0);
	close(e1);
	close(m0);
	close(m1);
	ioregion_client_free(c0);
	ioregion_client_free(c1);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Round trips on fd in ROUND_MS. */
static unsigned long round_trips(int fd)
{
	uint64_t end = now_us() + ROUND_MS * 1000;
	unsigned long n = 0;

	while (now_us() < end) {
		(void)harness_read(fd, MBOX_STATUS, 4);
		n++;
	}
	return n;
}

static void flood_send(int fd, uint32_t id)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__StatsRequest stats = IOR__STATS_REQUEST__INIT;
	Ior__ListRegions list = IOR__LIST_REGIONS__INIT;

	req.id = id;
	if (id % 2) {
		req.body_case = IOR__CLIENT_MESSAGE__BODY_STATS;
		req.stats = &stats;
	} else {
		req.body_case = IOR__CLIENT_MESSAGE__BODY_LIST_REGIONS;
		req.list_regions = &list;
	}
	if (control_send(fd, &req.base, -1) < 0)
		_exit(1);
}

/* Shared with the flooding child. */
struct flood_ctl {
	bool on;		/* the test wants the flood now */
	unsigned long answered;	/* replies it had */
};

/* In a child: cheap control requests (Stats, ListRegions), pipelined
 * FLOOD_BURST at a time every FLOOD_BURST_US (at once when late) while
 * ctl->on, until killed. */
static void flood(const struct harness_daemon *hd, struct flood_ctl *ctl)
{
	int fd = harness_raw_connect(hd);
	uint64_t next = now_us(), now;
	uint32_t id = 2, i;

	harness_raw_hello(fd, IOR_CONTROL_MAJOR, "vm1");
	if (harness_raw_reply(fd) != 0)
		_exit(1);
	for (;; next += FLOOD_BURST_US) {
		now = now_us();
		if (next > now)
			usleep((useconds_t)(next - now));
		if (!__atomic_load_n(&ctl->on, __ATOMIC_RELAXED))
			continue;
		for (i = 0; i < FLOOD_BURST; i++)
			flood_send(fd, id++);
		for (i = 0; i < FLOOD_BURST; i++)
			if (harness_raw_reply(fd) != 0)
				_exit(1);
		__atomic_fetch_add(&ctl->answered, FLOOD_BURST,
				   __ATOMIC_RELAXED);
	}
}

/* Round trips in a window with the flood set to on. */
static unsigned long round_trips_with(int fd, struct flood_ctl *ctl, bool on)
{
	unsigned long n;

	__atomic_store_n(&ctl->on, on, __ATOMIC_RELAXED);
	n = round_trips(fd);
	__atomic_store_n(&ctl->on, false, __ATOMIC_RELAXED);
	return n;
}

/* A control client pipelining cheap requests leaves a guest on a worker
 * its round trips: requests that touch nothing a worker serves never
 * pause the workers. Ratios measured in the same run, the machine being
 * shared: a half is below what the flood costs in CPU alone (0.7-1.6
 * measured), above what pausing for each request left (0.3-0.5). */
static void test_control_flood_spares_workers(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c0 = harness_connect(hd, "vm0");
	int m0 = harness_open(c0, "mbox");
	unsigned long quiet = 0, flooded = 0;
	uint64_t pauses;
	struct flood_ctl *ctl;
	unsigned int i;
	int status;
	pid_t pid;

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(ctl != MAP_FAILED);
	memset(ctl, 0, sizeof(*ctl));
	assert_true(served_by(hd, "vm0", "mbox") >= 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		flood(hd, ctl);
	pauses = harness_daemon_counter(hd, "worker_pauses");
	for (i = 0; i < ROUNDS; i++) {
		quiet += round_trips_with(m0, ctl, false);
		flooded += round_trips_with(m0, ctl, true);
	}
	pauses = harness_daemon_counter(hd, "worker_pauses") - pauses;
	/* Still flooding: it did not stop on an error. */
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	print_message("round trips in %d ms: %lu quiet, %lu under a flood of %lu requests; %llu pauses\n",
		      ROUNDS * ROUND_MS, quiet, flooded, ctl->answered,
		      (unsigned long long)pauses);
	assert_true(ctl->answered > 1000);
	assert_true(pauses < 10);
	assert_true(flooded * 2 >= quiet);
	munmap(ctl, sizeof(*ctl));
	close(m0);
	ioregion_client_free(c0);
}

/* A VMM that closes its region and opens it again at once, or saves its
 * VM's state at once, finds it closed, though the worker serving it may
 * not have told the main thread yet: the main thread looks itself. */
static void test_closed_channel_seen_at_once(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c0 = harness_connect(hd, "vm0");
	int m0 = harness_open(c0, "mbox"), memfd, i;
	uint64_t bytes;

	assert_true(served_by(hd, "vm0", "mbox") >= 1);
	for (i = 0; i < 50; i++) {
		harness_write(m0, MBOX_TX, 4, (uint64_t)i);
		close(m0);
		/* Not refused as running: its one region saved. */
		if (i % 2) {
			assert_int_equal(ioregion_client_save_vm_state(c0, "vm0",
								       &memfd,
								       &bytes),
					 1);
			close(memfd);
		}
		m0 = harness_open(c0, "mbox");
	}
	close(m0);
	ioregion_client_free(c0);
}

/* An interrupt raised on a worker to a VM whose VMM opened the line but
 * never the region is lost (the worker creates no records): counted. */
static void test_lost_interrupt_counted(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c0 = harness_connect(hd, "vm0");
	struct ioregion_client *c1 = harness_connect(hd, "vm1");
	int m0 = harness_open(c0, "mbox"), e1;

	assert_int_equal(ioregion_client_open_irq(c1, MBOX_IRQ, &e1), 0);
	assert_true(served_by(hd, "vm0", "mbox") >= 1);
	assert_int_equal(harness_daemon_counter(hd, "irqs_lost"), 0);
	/* Into vm1's inbox: its line goes up, on vm0's worker. */
	harness_write(m0, MBOX_TX, 4, 1);
	assert_int_equal(harness_daemon_counter(hd, "irqs_lost"), 1);
	close(e1);
	close(m0);
	ioregion_client_free(c0);
	ioregion_client_free(c1);
}

static const char console_config[] =
	"{\"daemon\": {\"workers\": 2}, \"regions\": ["
	"{\"name\": \"con\", \"device\": \"uart16550\", \"bus\": \"pio\","
	" \"address\": 1016, \"size\": 8, \"vms\": [\"vm0\"],"
	" \"options\": {\"output\": \"none\"},"
	" \"input\": {\"socket\": \"%s\"}}]}";

/* A console client that reads no more (shut down for reading): what the
 * UART sends it from a worker fails, and that is counted, not lost
 * silently. */
static void test_console_error_on_worker_counted(void **state)
{
	struct harness_daemon hd = { 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char json[sizeof(console_config) + sizeof(sa.sun_path)];
	struct ioregion_client *c0;
	uint64_t errors = 0;
	int con, client, i;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path),
		 "/tmp/ioregiond-workers-test-%d.sock", (int)getpid());
	snprintf(json, sizeof(json), console_config, sa.sun_path);
	harness_start(&hd, json);
	c0 = harness_connect(&hd, "vm0");
	con = harness_open(c0, "con");
	assert_true(served_by(&hd, "vm0", "con") >= 1);
	client = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(shutdown(client, SHUT_RD), 0);
	/* Until the daemon took the client: a byte to THR each time. */
	for (i = 0; i < 500 && errors == 0; i++) {
		harness_write(con, 0, 1, 'x');
		errors = device_counter(&hd, "vm0", "con",
					"console_output_errors");
		usleep(10 * 1000);
	}
	assert_true(errors >= 1);
	close(client);
	close(con);
	ioregion_client_free(c0);
	harness_stop(&hd);
	unlink(sa.sun_path);
}

/* One worker is today's daemon: every channel on the main thread. */
static void test_one_worker_is_the_main_thread(void **state)
{
	struct harness_daemon hd = { 0 };
	struct ioregion_client *c0, *c1;
	int m0, m1;

	(void)state;
	start(&hd, 1);
	c0 = harness_connect(&hd, "vm0");
	c1 = harness_connect(&hd, "vm1");
	m0 = harness_open(c0, "mbox");
	m1 = harness_open(c1, "mbox");
	assert_int_equal(served_by(&hd, "vm0", "mbox"), 0);
	assert_int_equal(served_by(&hd, "vm1", "mbox"), 0);
	harness_write(m0, MBOX_TX, 4, 0xcafe);
	assert_int_equal(harness_read(m1, MBOX_RX, 4), 0xcafe);
	close(m0);
	close(m1);
	ioregion_client_free(c0);
	ioregion_client_free(c1);
	harness_stop(&hd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mailbox_across_workers,
						setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_control_flood_spares_workers,
						setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_closed_channel_seen_at_once,
						setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_lost_interrupt_counted,
						setup_two, teardown),
		cmocka_unit_test(test_console_error_on_worker_counted),
		cmocka_unit_test(test_one_worker_is_the_main_thread),
	};

	/* These tests choose the workers themselves, in the config. */
	unsetenv("IOREGIOND_TEST_WORKERS");
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("workers", tests, NULL, NULL);
}
