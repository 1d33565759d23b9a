/* SPDX-License-Identifier: MIT */
/*
 * Migration and snapshots with the real daemon: a VM's device state saved
 * on one daemon and loaded on another, handed over between two VMMs on one
 * daemon with posted writes in flight, refused where it cannot go, and bad
 * state files refused with nothing applied while the daemon serves on.
 */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"
#include "tis_driver.h"

#define UART_IER 1
#define UART_LCR 3
#define UART_SCR 7
#define TESTDEV_SCRATCH 0x10
#define TESTDEV_READS 0x200
#define TESTDEV_WRITES 0x208
#define DOORBELL_COUNT(i) (0x200 + 8 * (i))
#define MBOX_SELF 0x04
#define MBOX_DEST 0x0c
#define MBOX_TX 0x10
#define MBOX_RX 0x18
#define MBOX_DEPTH 0x24

#define TPM_ACCESS 0x00	/* locality 0's */
#define TPM_ACCESS_REQUEST_USE 0x02
#define TPM_ACCESS_ACTIVE 0x20

#define RAM_SIZE 0x4000

/* One VM's regions on a daemon of its own; "lacks" leaves test0 out. */
static char *config(bool with_test0, const char *ram_address)
{
	char *json;

	assert_true(asprintf(&json,
		"{ \"regions\": ["
		" { \"name\": \"console0\", \"device\": \"uart16550\", \"bus\": \"pio\","
		"   \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm0\"],"
		"   \"options\": { \"output\": \"none\" } },"
		" { \"name\": \"ram0\", \"device\": \"ram\", \"bus\": \"mmio\","
		"   \"address\": \"%s\", \"size\": \"0x4000\", \"vms\": [\"vm0\"] },"
		" { \"name\": \"bell0\", \"device\": \"doorbell\", \"bus\": \"mmio\","
		"   \"address\": \"0xd0001000\", \"size\": \"0x1000\", \"vms\": [\"vm0\"],"
		"   \"posted_writes\": true }%s"
		" ] }", ram_address, with_test0 ?
		", { \"name\": \"test0\", \"device\": \"testdev\", \"bus\": \"mmio\","
		"   \"address\": \"0xd0002000\", \"size\": \"0x1000\", \"vms\": [\"vm0\"] }"
		: "") > 0);
	return json;
}

/* Expects rc to be the error code, with what in the client's message. */
static void expect_error(struct ioregion_client *c, int rc, int code,
			 const char *what)
{
	if (rc != -code)
		fail_msg("expected %s, got %d (%s)", strerror(code), rc,
			 ioregion_client_error(c));
	if (!strstr(ioregion_client_error(c), what))
		fail_msg("expected \"%s\" in \"%s\"", what,
			 ioregion_client_error(c));
}

static uint64_t pattern(unsigned int i)
{
	return 0x9e3779b97f4a7c15ull * (i + 1);
}

struct source {
	struct ioregion_client *c;
	int uart, ram, bell, test;
	uint64_t reads, writes;
};

/* A guest's worth of state on vm0: a ram pattern, the UART's LCR, IER and
 * scratch, testdev scratch and counters, doorbell rings. */
static void source_run(struct source *s, const struct harness_daemon *hd)
{
	unsigned int i;

	s->c = harness_connect(hd, "vm0");
	s->uart = harness_open(s->c, "console0");
	s->ram = harness_open(s->c, "ram0");
	s->bell = harness_open(s->c, "bell0");
	s->test = harness_open(s->c, "test0");
	for (i = 0; i < RAM_SIZE / 8; i++)
		harness_write(s->ram, 8 * i, 8, pattern(i));
	harness_write(s->uart, UART_LCR, 1, 0x1b);
	harness_write(s->uart, UART_IER, 1, 0x05);
	harness_write(s->uart, UART_SCR, 1, 0x5a);
	for (i = 0; i < 10; i++) {
		harness_write(s->test, TESTDEV_SCRATCH, 8, 0xc0de0000 + i);
		harness_post(s->bell, 0, 4, i);
	}
	s->writes = harness_read(s->test, TESTDEV_WRITES, 8);
	s->reads = harness_read(s->test, TESTDEV_READS, 8);
	assert_int_equal(s->writes, 10);
}

static void source_close(struct source *s)
{
	close(s->uart);
	close(s->ram);
	close(s->bell);
	close(s->test);
	ioregion_client_free(s->c);
}

/* What source_run left, read back through a VMM's fresh fds. */
static void check_state(struct ioregion_client *c, const struct source *s)
{
	int uart = harness_open(c, "console0"), ram = harness_open(c, "ram0");
	int bell = harness_open(c, "bell0"), test = harness_open(c, "test0");
	unsigned int i;

	for (i = 0; i < RAM_SIZE / 8; i++)
		if (harness_read(ram, 8 * i, 8) != pattern(i))
			fail_msg("ram0 at 0x%x: the pattern is gone", 8 * i);
	assert_int_equal(harness_read(uart, UART_LCR, 1), 0x1b);
	assert_int_equal(harness_read(uart, UART_IER, 1), 0x05);
	assert_int_equal(harness_read(uart, UART_SCR, 1), 0x5a);
	assert_int_equal(harness_read(test, TESTDEV_SCRATCH, 8), 0xc0de0009);
	/* The counters go on: the source's READS read (counted after its
	 * value), then the scratch and WRITES reads here. */
	assert_int_equal(harness_read(test, TESTDEV_WRITES, 8), s->writes);
	assert_int_equal(harness_read(test, TESTDEV_READS, 8), s->reads + 3);
	assert_int_equal(harness_read(bell, DOORBELL_COUNT(0), 8), 10);
	close(uart);
	close(ram);
	close(bell);
	close(test);
}

/* Two daemons, their own sockets and configs (ram0 at another address):
 * stop and save on the source, load on the destination, which reads every
 * value back. */
static void test_two_daemons(void **state)
{
	struct harness_daemon a, b;
	struct ioregion_client *dst;
	struct source s;
	char *ca = config(true, "0xd0010000"), *cb = config(true, "0xe0000000");
	uint64_t bytes;
	int memfd, n;

	harness_start(&a, ca);
	harness_start(&b, cb);
	source_run(&s, &a);
	assert_true(ioregion_client_capabilities(s.c) & IOREGION_CAP_MIGRATE);
	assert_int_equal(ioregion_client_check_migration(s.c, NULL, true), 0);
	/* Saving a running VM is refused: its regions are being served. */
	expect_error(s.c, ioregion_client_save_vm_state(s.c, NULL, &memfd, &bytes),
		     EBUSY, "VM vm0 is running");
	assert_int_equal(ioregion_client_stop_vm(s.c, NULL), 0);
	assert_string_equal(ioregion_client_reply_message(s.c),
			    "4 regions stopped, 0 frames drained");
	n = ioregion_client_save_vm_state(s.c, NULL, &memfd, &bytes);
	assert_int_equal(n, 4);
	assert_true(bytes > RAM_SIZE);
	assert_int_equal(lseek(memfd, 0, SEEK_END), (off_t)bytes);

	/* The destination VMM opened its regions before the state came:
	 * stopped, loaded, continued. */
	dst = harness_connect(&b, "vm0");
	close(harness_open(dst, "ram0"));
	assert_int_equal(ioregion_client_stop_vm(dst, NULL), 0);
	assert_int_equal(ioregion_client_load_vm_state(dst, NULL, memfd), 0);
	assert_string_equal(ioregion_client_reply_message(dst), "4 regions loaded");
	ioregion_client_cont_vm(dst, NULL);
	check_state(dst, &s);
	assert_int_equal(harness_daemon_counter(&b, "vm_states_loaded"), 1);
	assert_int_equal(harness_daemon_counter(&a, "vm_states_saved"), 1);
	close(memfd);
	ioregion_client_free(dst);
	source_close(&s);
	harness_stop(&a);
	harness_stop(&b);
	free(ca);
	free(cb);
}

/* The destination lacks a region: the load is refused naming it, nothing
 * of the state is applied, and the source goes on. */
static void test_destination_lacks_region(void **state)
{
	struct harness_daemon a, c;
	struct ioregion_client *dst;
	struct source s;
	char *ca = config(true, "0xd0010000"), *cc = config(false, "0xd0010000");
	uint64_t bytes;
	int memfd, ram;

	harness_start(&a, ca);
	harness_start(&c, cc);
	source_run(&s, &a);
	assert_int_equal(ioregion_client_stop_vm(s.c, NULL), 0);
	assert_int_equal(ioregion_client_save_vm_state(s.c, NULL, &memfd, &bytes), 4);
	dst = harness_connect(&c, "vm0");
	ram = harness_open(dst, "ram0");
	harness_write(ram, 0, 8, 0x1234);
	assert_int_equal(ioregion_client_stop_vm(dst, NULL), 0);
	expect_error(dst, ioregion_client_load_vm_state(dst, NULL, memfd), ENOENT,
		     "VM vm0 has no region \"test0\" on this daemon");
	assert_int_equal(harness_daemon_counter(&c, "vm_states_refused"), 1);
	/* ram0 came before test0 in the file: not applied either. */
	assert_int_equal(ioregion_client_cont_vm(dst, NULL), 0);
	assert_int_equal(harness_read(ram, 0, 8), 0x1234);
	/* The source runs on where it stopped. */
	assert_int_equal(ioregion_client_cont_vm(s.c, NULL), 0);
	harness_write(s.test, TESTDEV_SCRATCH, 8, 0xabc);
	assert_int_equal(harness_read(s.test, TESTDEV_WRITES, 8), s.writes + 1);
	assert_int_equal(harness_read(s.ram, 8, 8), pattern(1));
	close(ram);
	close(memfd);
	ioregion_client_free(dst);
	source_close(&s);
	harness_stop(&a);
	harness_stop(&c);
	free(ca);
	free(cc);
}

/* A memfd holding len bytes of buf. */
static int memfd_of(const void *buf, size_t len)
{
	int fd = memfd_create("state", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	return fd;
}

/* Garbage, huge, truncated, tampered, missing memfds and a load while the
 * VM runs: each refused with its reason and counted; nothing applied, the
 * daemon serves on. */
static void test_bad_state(void **state)
{
	struct harness_daemon a;
	struct source s;
	char *ca = config(true, "0xd0010000");
	uint8_t *saved;
	uint64_t bytes, refused;
	int memfd, fd, pfd[2];
	size_t at;

	harness_start(&a, ca);
	source_run(&s, &a);
	assert_int_equal(ioregion_client_stop_vm(s.c, NULL), 0);
	assert_int_equal(ioregion_client_save_vm_state(s.c, NULL, &memfd, &bytes), 4);
	saved = malloc(bytes);
	assert_int_equal(pread(memfd, saved, bytes, 0), (ssize_t)bytes);
	assert_int_equal(ioregion_client_cont_vm(s.c, NULL), 0);
	harness_write(s.ram, 0, 8, 0x5555);

	/* Load while running. */
	expect_error(s.c, ioregion_client_load_vm_state(s.c, NULL, memfd),
		     EBUSY, "VM vm0 is running (region ");
	assert_int_equal(ioregion_client_stop_vm(s.c, NULL), 0);
	fd = memfd_of("garbage garbage garbage garbage garbage garbage!", 48);
	expect_error(s.c, ioregion_client_load_vm_state(s.c, NULL, fd), EBADMSG,
		     "not a VM state file");
	close(fd);
	/* A sparse 1 GiB memfd. */
	fd = memfd_create("huge", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fd, 1ll << 30), 0);
	expect_error(s.c, ioregion_client_load_vm_state(s.c, NULL, fd), EMSGSIZE,
		     "a VM state of 1073741824 bytes");
	close(fd);
	/* Truncated: the header's length no longer matches. */
	fd = memfd_of(saved, bytes - 100);
	expect_error(s.c, ioregion_client_load_vm_state(s.c, NULL, fd), EBADMSG,
		     "the VM state says it has");
	close(fd);
	/* The last record's (test0's) state version changed: refused naming
	 * it, and ram0, before it in the file, is not loaded. */
	at = (size_t)((uint8_t *)memmem(saved, bytes, "test0", 5) - saved) + 5;
	saved[at] = 77;
	fd = memfd_of(saved, bytes);
	expect_error(s.c, ioregion_client_load_vm_state(s.c, NULL, fd), EPROTO,
		     "region test0: testdev state format version 77 is unknown");
	close(fd);
	/* A pipe is no state file. */
	assert_int_equal(pipe(pfd), 0);
	expect_error(s.c, ioregion_client_load_vm_state(s.c, NULL, pfd[0]),
		     EBADF, "not a memfd");
	close(pfd[0]);
	close(pfd[1]);
	/* No memfd at all. */
	expect_error(s.c, ioregion_client_load_vm_state(s.c, NULL, -1), EBADF,
		     "none came");
	refused = harness_daemon_counter(&a, "vm_states_refused");
	/* The EBUSY of the load while running, then six. */
	assert_int_equal(refused, 7);
	assert_int_equal(ioregion_client_cont_vm(s.c, NULL), 0);
	assert_int_equal(harness_read(s.ram, 0, 8), 0x5555);
	assert_int_equal(harness_read(s.test, TESTDEV_WRITES, 8), s.writes);
	/* The good file still loads: a snapshot taken back. */
	assert_int_equal(ioregion_client_stop_vm(s.c, NULL), 0);
	assert_int_equal(ioregion_client_load_vm_state(s.c, NULL, memfd), 0);
	assert_int_equal(ioregion_client_cont_vm(s.c, NULL), 0);
	assert_int_equal(harness_read(s.ram, 0, 8), pattern(0));
	close(memfd);
	free(saved);
	source_close(&s);
	harness_stop(&a);
	free(ca);
}

/* A VMM stopped between sending frames and the daemon reading them: how
 * many responses a reader of fd still finds. */
static unsigned int drain_responses(int fd)
{
	struct ioregion_resp resp;
	unsigned int n = 0;

	while (harness_recv_resp(fd, &resp, 100))
		n++;
	return n;
}

/* One daemon, the built-in config (vm0 and vm1 share mbox): an incoming
 * VMM attaches while the source runs, the source posts writes and stops,
 * the destination takes over; every posted write counted exactly once,
 * vm1 never notices. */
static void test_handover(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *src, *dst, *other;
	struct ioregion_region *regions;
	int test, bell, mbox_src, mbox_other, mbox_dst, fd;
	unsigned int i, n = 100;
	uint64_t bytes;
	char buf[4];
	pid_t child;
	int status;

	harness_start(&hd, NULL);
	other = harness_connect(&hd, "vm1");
	mbox_other = harness_open(other, "mbox");
	src = harness_connect(&hd, "vm0");
	test = harness_open(src, "test0");
	bell = harness_open(src, "bell0");
	mbox_src = harness_open(src, "mbox");
	/* Mail for vm0 waits in the shared mailbox. */
	harness_write(mbox_other, MBOX_DEST, 4, 0);
	harness_write(mbox_other, MBOX_TX, 8, 0xfeedface);
	/* To another daemon the shared mailbox cannot go. */
	expect_error(src, ioregion_client_check_migration(src, NULL, true),
		     EXDEV, "region mbox: its mailbox is shared with 1 other VMs");
	assert_int_equal(ioregion_client_check_migration(src, NULL, false), 0);

	assert_int_equal(ioregion_client_connect_incoming(hd.socket, "dest",
							  "vm0", &dst), 0);
	assert_int_equal(ioregion_client_list(dst, NULL, &regions), 5);
	free(regions);
	expect_error(dst, ioregion_client_open(dst, "test0",
					       &(struct ioregion_region){ 0 }),
		     EBUSY, "an incoming VMM opens regions after TakeOver");
	expect_error(dst, ioregion_client_open_irq(dst, 5, &fd), EBUSY,
		     "an incoming VMM opens interrupt lines after TakeOver");
	expect_error(dst, ioregion_client_take_over(dst), EBUSY,
		     "of VM vm0 is still served: the source must stop the VM");

	/* Posted writes in flight when the vCPUs stop: all of them land (as
	 * many as a socket holds unread: each write is its own skb). The
	 * daemon is held (SIGSTOP) while a child sends the StopVm and the
	 * writes follow, so they are still on the sockets when the daemon
	 * takes the StopVm (its socket woke first) and the stop drains them.
	 * Worker threads may serve some before the main thread takes the
	 * StopVm: the stop drains the rest, and the counts below show each
	 * landed once either way. */
	harness_freeze(&hd);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		unsigned int drained;

		if (ioregion_client_stop_vm(src, NULL) < 0)
			_exit(1);
		if (sscanf(ioregion_client_reply_message(src),
			   "3 regions stopped, %u frames drained", &drained) != 1)
			_exit(2);
		_exit(drained > 2 * n ? 3 : 0);
	}
	usleep(100000);
	for (i = 0; i < n; i++) {
		harness_post(test, TESTDEV_SCRATCH, 4, i);
		harness_post(bell, 0, 4, i);
	}
	assert_int_equal(kill(hd.pid, SIGCONT), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* Sent after the stop point: never served. */
	harness_post(test, TESTDEV_SCRATCH, 4, 0xdead);
	harness_post(bell, 0, 4, 0xdead);
	/* The state goes through this daemon as through another (QEMU sends
	 * it in its migration stream either way); vm1 mails vm0 after the
	 * save: the incoming side's load keeps the shared mailbox as it is. */
	assert_int_equal(ioregion_client_save_vm_state(src, NULL, &fd, &bytes), 5);
	harness_write(mbox_other, MBOX_TX, 8, 0xa11ce);
	assert_int_equal(ioregion_client_load_vm_state(dst, NULL, fd), 0);
	assert_string_equal(ioregion_client_reply_message(dst),
			    "4 regions loaded, 1 shared with other VMs kept as they are");
	close(fd);

	assert_int_equal(ioregion_client_take_over(dst), 0);
	assert_string_equal(ioregion_client_reply_message(dst),
			    "3 regions handed over");
	expect_error(src, ioregion_client_cont_vm(src, NULL), ENOENT,
		     "no region of the VM is stopped");
	/* The source's data path is dead (reset: the daemon closed its end
	 * with the frames sent after the stop unread). */
	assert_true(read(test, buf, sizeof(buf)) <= 0);
	close(test);
	close(bell);

	test = harness_open(dst, "test0");
	bell = harness_open(dst, "bell0");
	mbox_dst = harness_open(dst, "mbox");
	assert_int_equal(harness_read(test, TESTDEV_WRITES, 8), n);
	assert_int_equal(harness_read(test, TESTDEV_SCRATCH, 4), n - 1);
	assert_int_equal(harness_read(bell, DOORBELL_COUNT(0), 8), n);
	/* The mail stayed, that sent after the save too; vm1 goes on with
	 * its fd of before. */
	assert_int_equal(harness_read(mbox_dst, MBOX_DEPTH, 4), 2);
	assert_int_equal(harness_read(mbox_dst, MBOX_RX, 8), 0xfeedface);
	assert_int_equal(harness_read(mbox_dst, MBOX_RX, 8), 0xa11ce);
	assert_int_equal(harness_read(mbox_other, MBOX_SELF, 4), 1);
	harness_write(mbox_dst, MBOX_DEST, 4, 1);
	harness_write(mbox_dst, MBOX_TX, 8, 0xbeef);
	assert_int_equal(harness_read(mbox_other, MBOX_RX, 8), 0xbeef);
	assert_int_equal(drain_responses(mbox_src), 0);
	assert_int_equal(harness_daemon_counter(&hd, "handovers"), 1);
	close(test);
	close(bell);
	close(mbox_src);
	close(mbox_dst);
	close(mbox_other);
	ioregion_client_free(src);
	ioregion_client_free(dst);
	ioregion_client_free(other);
	harness_stop(&hd);
}

/* A snapshot on one daemon of a VM that shares the mailbox: its inbox
 * comes back, vm1's is left alone. */
static void test_snapshot_shared_mailbox(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *vm0, *vm1;
	int m0, m1, memfd;
	uint64_t bytes;

	harness_start(&hd, NULL);
	vm0 = harness_connect(&hd, "vm0");
	vm1 = harness_connect(&hd, "vm1");
	m0 = harness_open(vm0, "mbox");
	m1 = harness_open(vm1, "mbox");
	harness_write(m1, MBOX_DEST, 4, 0);
	harness_write(m1, MBOX_TX, 8, 0x1111);
	assert_int_equal(ioregion_client_stop_vm(vm0, NULL), 0);
	assert_int_equal(ioregion_client_save_vm_state(vm0, NULL, &memfd, &bytes), 5);
	assert_int_equal(ioregion_client_cont_vm(vm0, NULL), 0);
	/* vm0 reads its mail; vm0 sends vm1 some. */
	assert_int_equal(harness_read(m0, MBOX_RX, 8), 0x1111);
	harness_write(m0, MBOX_DEST, 4, 1);
	harness_write(m0, MBOX_TX, 8, 0x2222);
	assert_int_equal(ioregion_client_stop_vm(vm0, NULL), 0);
	assert_int_equal(ioregion_client_load_vm_state(vm0, NULL, memfd), 0);
	assert_int_equal(ioregion_client_cont_vm(vm0, NULL), 0);
	assert_int_equal(harness_read(m0, MBOX_DEPTH, 4), 1);
	assert_int_equal(harness_read(m0, MBOX_RX, 8), 0x1111);
	assert_int_equal(harness_read(m1, MBOX_DEPTH, 4), 1);
	assert_int_equal(harness_read(m1, MBOX_RX, 8), 0x2222);
	close(memfd);
	close(m0);
	close(m1);
	ioregion_client_free(vm0);
	ioregion_client_free(vm1);
	harness_stop(&hd);
}

/* A tpm-tis region on daemon hd for vm0 and vm1, each with its own TPM;
 * ctrl names vm0's user-run swtpm control socket, or NULL. */
static void tpm_daemon(struct harness_daemon *hd, const char *ctrl)
{
	char config[1024], users[256] = "";

	harness_prepare(hd, NULL);
	if (ctrl)
		snprintf(users, sizeof(users),
			 ", \"ctrl_sockets\": { \"vm0\": \"%s\" }", ctrl);
	snprintf(config, sizeof(config),
		 "{ \"regions\": [ { \"name\": \"tpm0\", \"device\": \"tpm-tis\","
		 " \"bus\": \"mmio\", \"address\": \"0xfed40000\", \"size\": 20480,"
		 " \"vms\": [\"vm0\", \"vm1\"],"
		 " \"options\": { \"state_dir\": \"%s/tpm\"%s } },"
		 " { \"name\": \"test0\", \"device\": \"testdev\", \"bus\": \"mmio\","
		 " \"address\": \"0xd0002000\", \"size\": 4096, \"vms\": [\"vm0\"] } ] }",
		 hd->dir, users);
	harness_write_config(hd, config);
	harness_launch(hd);
}

/* Runs cmd on the TPM behind fd; its answer must be a success. */
static long tpm_run(int *fd, const uint8_t *cmd, size_t len, uint8_t *resp)
{
	struct tis_io io = harness_tis_io(fd);
	long n = tis_transmit(&io, cmd, len, resp, 4096, 60000);

	if (n < 10 || tpm_rc(resp) != 0)
		fail_msg("TPM command 0x%x: %ld bytes, response code 0x%x",
			 tpm_be32(cmd + 6), n, n >= 10 ? tpm_rc(resp) : 0);
	return n;
}

static void tpm_pcr16(int *fd, uint8_t *pcr)
{
	uint8_t resp[4096];
	long n = tpm_run(fd, tpm_cmd_pcr16_read, sizeof(tpm_cmd_pcr16_read),
			 resp);

	memcpy(pcr, resp + n - 32, 32);
}

/* Startup, then PCR 16 extended with b; *pcr gets its value. */
static void tpm_boot_and_extend(int *fd, uint8_t b, uint8_t *pcr)
{
	uint8_t cmd[TPM_PCR16_EXTEND_LEN], digest[32], resp[4096];

	tpm_run(fd, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp);
	memset(digest, b, sizeof(digest));
	tpm_run(fd, cmd, tpm_cmd_pcr16_extend(cmd, digest), resp);
	tpm_pcr16(fd, pcr);
}

/* A VM's TPM moves with it to another daemon, as QEMU's destination
 * does it (incoming, TakeOver, LoadVmState, then the opens): PCR 16 and
 * the granted locality arrive; the region is shared with vm1, whose TPM
 * on either daemon is its own and stays as it is. */
static void test_tpm_moves(void **state)
{
	struct harness_daemon a, b;
	struct ioregion_client *src, *dst, *other;
	uint8_t pcr[32], moved[32], zero[32] = { 0 };
	uint64_t bytes;
	int tpm, test, memfd, otpm;

	if (system("command -v swtpm >/dev/null 2>&1") != 0)
		skip();
	tpm_daemon(&a, NULL);
	tpm_daemon(&b, NULL);
	src = harness_connect(&a, "vm0");
	tpm = harness_open(src, "tpm0");
	test = harness_open(src, "test0");
	tpm_boot_and_extend(&tpm, 0x5a, pcr);
	assert_memory_not_equal(pcr, zero, 32);
	harness_write(tpm, TPM_ACCESS, 1, TPM_ACCESS_REQUEST_USE);
	harness_write(test, TESTDEV_SCRATCH, 8, 0x77);
	/* vm1's TPM on the destination, booted before vm0 arrives. */
	other = harness_connect(&b, "vm1");
	otpm = harness_open(other, "tpm0");
	tpm_boot_and_extend(&otpm, 0x11, moved);

	assert_int_equal(ioregion_client_check_migration(src, NULL, true), 0);
	assert_int_equal(ioregion_client_stop_vm(src, NULL), 0);
	assert_int_equal(ioregion_client_save_vm_state(src, NULL, &memfd, &bytes), 2);
	assert_string_equal(ioregion_client_reply_message(src), "2 regions");

	assert_int_equal(ioregion_client_connect_incoming(b.socket, "dest",
							  "vm0", &dst), 0);
	assert_int_equal(ioregion_client_take_over(dst), 0);
	assert_int_equal(ioregion_client_load_vm_state(dst, NULL, memfd), 0);
	assert_string_equal(ioregion_client_reply_message(dst), "2 regions loaded");
	close(tpm);
	close(test);
	tpm = harness_open(dst, "tpm0");
	test = harness_open(dst, "test0");
	/* No TPM_Init at this open: the locality is still granted and PCR
	 * 16 reads without a new Startup. */
	assert_true(harness_read(tpm, TPM_ACCESS, 1) & TPM_ACCESS_ACTIVE);
	tpm_pcr16(&tpm, moved);
	assert_memory_equal(moved, pcr, 32);
	assert_int_equal(harness_read(test, TESTDEV_SCRATCH, 8), 0x77);
	/* vm1's TPM kept its own PCR 16. */
	tpm_pcr16(&otpm, moved);
	assert_memory_not_equal(moved, pcr, 32);
	assert_memory_not_equal(moved, zero, 32);

	close(memfd);
	close(tpm);
	close(test);
	close(otpm);
	ioregion_client_free(src);
	ioregion_client_free(dst);
	ioregion_client_free(other);
	harness_stop(&a);
	harness_stop(&b);
}

/* A TPM whose swtpm the user runs (options.ctrl_sockets) keeps its state
 * there: another daemon is refused up front, a save leaves it out (kept),
 * and a record of the daemon's own TPM is not loaded into it. */
static void test_tpm_of_the_user_stays(void **state)
{
	struct harness_daemon a, b;
	struct ioregion_client *src, *dst;
	uint8_t pcr[32];
	uint64_t bytes;
	char ctrl[300];
	int tpm, memfd;

	if (system("command -v swtpm >/dev/null 2>&1") != 0)
		skip();
	tpm_daemon(&a, NULL);
	/* Never started: the daemon connects to it at the first command. */
	snprintf(ctrl, sizeof(ctrl), "%s/users-swtpm.ctrl", a.dir);
	tpm_daemon(&b, ctrl);

	src = harness_connect(&b, "vm0");
	expect_error(src, ioregion_client_check_migration(src, NULL, true),
		     ENOTSUP, "region tpm0: VM vm0's TPM is an swtpm run outside the daemon (options.ctrl_sockets)");
	assert_int_equal(ioregion_client_check_migration(src, NULL, false), 0);
	assert_int_equal(ioregion_client_save_vm_state(src, NULL, &memfd, &bytes), 1);
	assert_string_equal(ioregion_client_reply_message(src),
			    "1 regions; kept in the daemon: tpm0");
	close(memfd);

	dst = harness_connect(&a, "vm0");
	tpm = harness_open(dst, "tpm0");
	tpm_boot_and_extend(&tpm, 0x22, pcr);
	close(tpm);
	assert_int_equal(ioregion_client_save_vm_state(dst, NULL, &memfd, &bytes), 2);
	expect_error(src, ioregion_client_load_vm_state(src, NULL, memfd),
		     ENOTSUP, "region tpm0: its TPM here is an swtpm run outside the daemon");
	assert_int_equal(harness_daemon_counter(&b, "vm_states_refused"), 2);
	close(memfd);
	ioregion_client_free(src);
	ioregion_client_free(dst);
	harness_stop(&a);
	harness_stop(&b);
}

/* A VM's part of a shared mailbox belongs to that VM: loaded into the
 * other VM sharing it, vm0's mail would become vm1's. A header cut before
 * the VM's name is no state file either. */
static void test_vm_part_of_another_vm(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *vm0, *vm1;
	uint8_t head[40];
	int m0, m1, memfd, fd;
	uint64_t bytes;

	harness_start(&hd,
		"{ \"regions\": [ { \"name\": \"mbox\", \"device\": \"mailbox\","
		" \"bus\": \"mmio\", \"address\": \"0xd0003000\", \"size\": 4096,"
		" \"vms\": [\"vm0\", \"vm1\"] } ] }");
	vm0 = harness_connect(&hd, "vm0");
	vm1 = harness_connect(&hd, "vm1");
	m0 = harness_open(vm0, "mbox");
	m1 = harness_open(vm1, "mbox");
	harness_write(m1, MBOX_DEST, 4, 0);
	harness_write(m1, MBOX_TX, 8, 0x1111);
	assert_int_equal(ioregion_client_stop_vm(vm0, NULL), 0);
	assert_int_equal(ioregion_client_save_vm_state(vm0, NULL, &memfd, &bytes), 1);
	assert_int_equal(ioregion_client_cont_vm(vm0, NULL), 0);
	assert_int_equal(ioregion_client_stop_vm(vm1, NULL), 0);
	expect_error(vm1, ioregion_client_load_vm_state(vm1, NULL, memfd), EXDEV,
		     "region mbox: the record is VM vm0's part of a shared device, not VM vm1's");
	/* The header alone, its length saying so: no VM name, no count. */
	assert_int_equal(pread(memfd, head, sizeof(head), 0), (ssize_t)sizeof(head));
	memset(head + 12, 0, 4);
	head[16] = sizeof(head);
	memset(head + 17, 0, 7);
	fd = memfd_of(head, sizeof(head));
	expect_error(vm1, ioregion_client_load_vm_state(vm1, NULL, fd), EBADMSG,
		     "the VM state says it has 40 bytes");
	close(fd);
	assert_int_equal(harness_daemon_counter(&hd, "vm_states_refused"), 2);
	assert_int_equal(ioregion_client_cont_vm(vm1, NULL), 0);
	assert_int_equal(harness_read(m1, MBOX_DEPTH, 4), 0);
	assert_int_equal(harness_read(m0, MBOX_DEPTH, 4), 1);
	assert_int_equal(harness_read(m0, MBOX_RX, 8), 0x1111);
	close(memfd);
	close(m0);
	close(m1);
	ioregion_client_free(vm0);
	ioregion_client_free(vm1);
	harness_stop(&hd);
}

/* Every refused migration request is counted, whatever refused it: the
 * VM's scope, nothing stopped to continue, a take-over by a VMM that is
 * not incoming. */
static void test_refusals_counted(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *vm0, *admin;
	uint64_t bytes;
	int m0, memfd;

	harness_start(&hd, NULL);
	vm0 = harness_connect(&hd, "vm0");
	admin = harness_connect(&hd, NULL);
	m0 = harness_open(vm0, "mbox");
	expect_error(vm0, ioregion_client_take_over(vm0), EPERM,
		     "only an incoming connection");
	expect_error(vm0, ioregion_client_cont_vm(vm0, NULL), ENOENT,
		     "no region of the VM is stopped");
	expect_error(admin, ioregion_client_save_vm_state(admin, NULL, &memfd,
							  &bytes),
		     EINVAL, "name the VM");
	assert_int_equal(memfd, -1);
	assert_int_equal(harness_daemon_counter(&hd, "vm_states_refused"), 3);
	close(m0);
	ioregion_client_free(vm0);
	ioregion_client_free(admin);
	harness_stop(&hd);
}

/* A VM whose rams hold more than a load reads (256 MiB) is refused at
 * the save, naming the region, not at the destination after the stop. */
static void test_save_too_big(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c;
	char config[1024];
	uint64_t bytes;
	int memfd;

	snprintf(config, sizeof(config), "{ \"regions\": [ %s, %s, %s, %s ] }",
		 "{ \"name\": \"big0\", \"device\": \"ram\", \"bus\": \"mmio\","
		 " \"address\": \"0x100000000\", \"size\": \"0x4000000\", \"vms\": [\"vm0\"] }",
		 "{ \"name\": \"big1\", \"device\": \"ram\", \"bus\": \"mmio\","
		 " \"address\": \"0x104000000\", \"size\": \"0x4000000\", \"vms\": [\"vm0\"] }",
		 "{ \"name\": \"big2\", \"device\": \"ram\", \"bus\": \"mmio\","
		 " \"address\": \"0x108000000\", \"size\": \"0x4000000\", \"vms\": [\"vm0\"] }",
		 "{ \"name\": \"big3\", \"device\": \"ram\", \"bus\": \"mmio\","
		 " \"address\": \"0x10c000000\", \"size\": \"0x4000000\", \"vms\": [\"vm0\"] }");
	harness_start(&hd, config);
	c = harness_connect(&hd, "vm0");
	expect_error(c, ioregion_client_save_vm_state(c, NULL, &memfd, &bytes),
		     EFBIG, "region big3: its 67108864 bytes of memory take the VM state past");
	assert_int_equal(memfd, -1);
	assert_int_equal(harness_daemon_counter(&hd, "vm_states_refused"), 1);
	ioregion_client_free(c);
	harness_stop(&hd);
}

/* A take-over belongs to the connection that sent it: when that VMM goes
 * before opening the regions, the next VMM of the VM is a fresh boot and
 * its TPM gets a TPM_Init (no locality left granted). */
static void test_takeover_by_a_gone_vmm(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *src, *dst, *fresh;
	char config[1024];
	int tpm;

	if (system("command -v swtpm >/dev/null 2>&1") != 0)
		skip();
	harness_prepare(&hd, NULL);
	snprintf(config, sizeof(config),
		 "{ \"regions\": [ { \"name\": \"tpm0\", \"device\": \"tpm-tis\","
		 " \"bus\": \"mmio\", \"address\": \"0xfed40000\", \"size\": 20480,"
		 " \"vms\": [\"vm0\"], \"options\": { \"state_dir\": \"%s/tpm\" } } ] }",
		 hd.dir);
	harness_write_config(&hd, config);
	harness_launch(&hd);
	src = harness_connect(&hd, "vm0");
	tpm = harness_open(src, "tpm0");
	harness_write(tpm, TPM_ACCESS, 1, TPM_ACCESS_REQUEST_USE);
	assert_true(harness_read(tpm, TPM_ACCESS, 1) & TPM_ACCESS_ACTIVE);
	assert_int_equal(ioregion_client_connect_incoming(hd.socket, "dest",
							  "vm0", &dst), 0);
	assert_int_equal(ioregion_client_stop_vm(src, NULL), 0);
	assert_int_equal(ioregion_client_take_over(dst), 0);
	close(tpm);
	ioregion_client_free(dst);
	ioregion_client_free(src);
	fresh = harness_connect(&hd, "vm0");
	tpm = harness_open(fresh, "tpm0");
	assert_false(harness_read(tpm, TPM_ACCESS, 1) & TPM_ACCESS_ACTIVE);
	close(tpm);
	ioregion_client_free(fresh);
	harness_stop(&hd);
}

/* A VMM that sends reads and reads no responses: StopVm cannot serve the
 * frames behind them, so it refuses (EAGAIN, naming the region) rather
 * than stop with frames a TakeOver would drop. Once the responses are
 * read, every read was served once and StopVm goes through. */
static void test_stop_with_unread_responses(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c;
	struct ioregion_cmd cmd = ioregion_cmd_make(IOREGION_CMD_READ, 3, true,
						    0, TESTDEV_SCRATCH, 0);
	unsigned int sent = 0, got = 0, n;
	int test;

	harness_start(&hd, NULL);
	c = harness_connect(&hd, "vm0");
	test = harness_open(c, "test0");
	/* Till the daemon, its responses unread, reads no more of ours. */
	for (;;) {
		struct pollfd pfd = { .fd = test, .events = POLLOUT };

		if (send(test, &cmd, sizeof(cmd), MSG_DONTWAIT) ==
		    (ssize_t)sizeof(cmd)) {
			sent++;
			continue;
		}
		assert_int_equal(errno, EAGAIN);
		if (poll(&pfd, 1, 300) == 0)
			break;
	}
	expect_error(c, ioregion_client_stop_vm(c, NULL), EAGAIN,
		     "region test0: the VMM does not read its responses");
	while ((n = drain_responses(test)) > 0)
		got += n;
	assert_int_equal(got, sent);
	assert_int_equal(ioregion_client_stop_vm(c, NULL), 0);
	assert_int_equal(ioregion_client_cont_vm(c, NULL), 0);
	assert_int_equal(harness_daemon_counter(&hd, "vm_states_refused"), 1);
	close(test);
	ioregion_client_free(c);
	harness_stop(&hd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_daemons),
		cmocka_unit_test(test_destination_lacks_region),
		cmocka_unit_test(test_bad_state),
		cmocka_unit_test(test_handover),
		cmocka_unit_test(test_snapshot_shared_mailbox),
		cmocka_unit_test(test_tpm_moves),
		cmocka_unit_test(test_tpm_of_the_user_stays),
		cmocka_unit_test(test_vm_part_of_another_vm),
		cmocka_unit_test(test_refusals_counted),
		cmocka_unit_test(test_save_too_big),
		cmocka_unit_test(test_takeover_by_a_gone_vmm),
		cmocka_unit_test(test_stop_with_unread_responses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
