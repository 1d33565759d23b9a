/* SPDX-License-Identifier: MIT */
/*
 * Restarts through an fd store, without systemd: the test keeps the fds
 * the real ioregiond stores (FDSTORE=1 and FDNAME= on a NOTIFY_SOCKET it
 * listens on) and starts the daemon again with them in LISTEN_FDS and
 * LISTEN_FDNAMES, the way systemd does for FileDescriptorStoreMax=. A VM's
 * control connection and region fds must outlive SIGTERM and SIGKILL with
 * every value, and a corrupt state memfd must cost only its own region.
 * tests/systemd/run does the same under a real systemd.
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
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define RT_MAX_FDS 64
#define RAM_WORDS 512
#define BELL_TOTAL 0x400

struct rt_fd {
	char name[64];
	int fd;
};

/* A daemon and the fd store it writes to. */
struct rt {
	char dir[64], socket[128], notify[128], log[128];
	char config[128];	/* empty: the built-in config */
	int notify_fd;
	pid_t pid;
	bool ready;
	struct rt_fd store[RT_MAX_FDS];
	unsigned int nstore;
};

static void rt_store_remove(struct rt *t, const char *name)
{
	unsigned int i = 0;

	while (i < t->nstore) {
		if (strcmp(t->store[i].name, name) == 0) {
			close(t->store[i].fd);
			t->store[i] = t->store[--t->nstore];
		} else {
			i++;
		}
	}
}

/* One notification: READY=1, or an fd to store or withdraw. */
static void rt_notification(struct rt *t, char *msg, const int *fds,
			    unsigned int nfds)
{
	const char *name = strstr(msg, "FDNAME=");
	char *nl;

	if (name) {
		name += strlen("FDNAME=");
		if ((nl = strchr(name, '\n')))
			*nl = '\0';
	}
	if (strstr(msg, "READY=1"))
		t->ready = true;
	if (strstr(msg, "FDSTOREREMOVE=1") && name) {
		rt_store_remove(t, name);
	} else if (strstr(msg, "FDSTORE=1") && name && nfds == 1) {
		assert_true(t->nstore < RT_MAX_FDS);
		snprintf(t->store[t->nstore].name, sizeof(t->store[0].name),
			 "%s", name);
		t->store[t->nstore++].fd = fds[0];
		return;
	}
	while (nfds--)
		close(fds[nfds]);
}

/* Takes every notification waiting, or waits up to timeout_ms for one. */
static void rt_drain(struct rt *t, int timeout_ms)
{
	struct pollfd pfd = { .fd = t->notify_fd, .events = POLLIN };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	char buf[4096];

	while (poll(&pfd, 1, timeout_ms) == 1) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *c;
		int fds[4];
		unsigned int nfds = 0;
		ssize_t n = recvmsg(t->notify_fd, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0)
			break;
		buf[n] = '\0';
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_type == SCM_RIGHTS)
				for (; nfds < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) &&
				       nfds < 4; nfds++)
					memcpy(&fds[nfds], CMSG_DATA(c) + nfds * sizeof(int),
					       sizeof(int));
		rt_notification(t, buf, fds, nfds);
		timeout_ms = 0;
	}
}

static void rt_init(struct rt *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(t, 0, sizeof(*t));
	strcpy(t->dir, "/tmp/ioregiond-restart-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->socket, sizeof(t->socket), "%s/control.sock", t->dir);
	snprintf(t->notify, sizeof(t->notify), "%s/notify", t->dir);
	snprintf(t->log, sizeof(t->log), "%s/log", t->dir);
	t->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, t->notify);
	assert_int_equal(bind(t->notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/* In the child: the stored fds at 3, 4, ... and their names, as systemd
 * passes them. */
static void rt_child_fds(struct rt *t)
{
	char names[RT_MAX_FDS * 65] = "", num[32];
	int high[RT_MAX_FDS];
	unsigned int i;

	for (i = 0; i < t->nstore; i++)
		high[i] = fcntl(t->store[i].fd, F_DUPFD, 100);
	for (i = 0; i < t->nstore; i++) {
		dup2(high[i], 3 + (int)i);
		close(high[i]);
		strcat(names, i ? ":" : "");
		strcat(names, t->store[i].name);
	}
	if (!t->nstore)
		return;
	snprintf(num, sizeof(num), "%u", t->nstore);
	setenv("LISTEN_FDS", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
}

static void rt_launch(struct rt *t)
{
	const char *argv[10];
	int i, argc = 0;

	t->ready = false;
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		harness_child_log(t->log, O_APPEND);
		setenv("NOTIFY_SOCKET", t->notify, 1);
		rt_child_fds(t);
		argv[argc++] = "ioregiond";
		argv[argc++] = "-s";
		argv[argc++] = t->socket;
		if (t->config[0]) {
			argv[argc++] = "-c";
			argv[argc++] = t->config;
		}
		if (harness_poll_arg())
			argv[argc++] = harness_poll_arg();
		if (harness_workers_arg())
			argv[argc++] = harness_workers_arg();
		argv[argc] = NULL;
		execv(harness_binary(), (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 100 && !t->ready; i++)
		rt_drain(t, 100);
	if (!t->ready)
		fail_msg("ioregiond sent no READY=1; see %s", t->log);
}

static void rt_kill(struct rt *t, int sig)
{
	int status;

	assert_int_equal(kill(t->pid, sig), 0);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	if (sig == SIGTERM)
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	rt_drain(t, 0);
}

static void rt_cleanup(struct rt *t)
{
	rt_kill(t, SIGTERM);
	while (t->nstore)
		close(t->store[--t->nstore].fd);
	close(t->notify_fd);
	unlink(t->notify);
	unlink(t->log);
	if (t->config[0])
		unlink(t->config);
	unlink(t->socket);
	rmdir(t->dir);
}

static bool rt_stored(const struct rt *t, const char *prefix)
{
	unsigned int i;

	for (i = 0; i < t->nstore; i++)
		if (strncmp(t->store[i].name, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static bool rt_log_has(const struct rt *t, const char *what)
{
	char buf[65536];
	int fd = open(t->log, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

static uint64_t rt_pattern(unsigned int i)
{
	return i * 0x9e3779b97f4a7c15ull;
}

static void rt_check_ram(int ram)
{
	unsigned int i;

	for (i = 0; i < RAM_WORDS; i++)
		assert_int_equal(harness_read(ram, 8 * i, 8), rt_pattern(i));
}

/* A daemon counter from Stats over c. */
static uint64_t rt_counter(struct ioregion_client *c, const char *name)
{
	char *json = NULL, key[64];
	const char *p;
	uint64_t v;

	assert_int_equal(ioregion_client_stats(c, "", &json), 0);
	snprintf(key, sizeof(key), "\"%s\":", name);
	p = strstr(json, "\"daemon\"");
	p = p ? strstr(p, key) : NULL;
	if (!p || sscanf(p + strlen(key), " %lu", &v) != 1)
		fail_msg("no %s in %s", name, json);
	free(json);
	return v;
}

/* A daemon with VM vm0 attached, ram0 open (*ram) and written. */
static struct ioregion_client *rt_start_vm(struct rt *t, int *ram)
{
	struct ioregion_client *c = NULL;
	unsigned int i;

	rt_init(t);
	rt_launch(t);
	assert_int_equal(ioregion_client_connect(t->socket, "restart_test",
						 "vm0", &c), 0);
	*ram = harness_open(c, "ram0");
	for (i = 0; i < RAM_WORDS; i++)
		harness_write(*ram, 8 * i, 8, rt_pattern(i));
	return c;
}

static void test_restart_and_crash_keep_the_vm(void **state)
{
	struct ioregion_client *c;
	struct rt t;
	unsigned int i;
	int ram, bell;

	c = rt_start_vm(&t, &ram);
	bell = harness_open(c, "bell0");
	for (i = 0; i < 1000; i++)
		harness_post(bell, 8 * (i % 4), 8, i);
	/* A read after the posted writes: every one of them was served. */
	assert_int_equal(harness_read(bell, BELL_TOTAL, 8), 1000);
	rt_drain(&t, 0);
	assert_true(rt_stored(&t, "ior-session-"));
	assert_true(rt_stored(&t, "ior-channel-"));
	assert_true(rt_stored(&t, "ior-ram-"));

	rt_kill(&t, SIGTERM);
	/* Posted while no daemon runs: they wait in the socket (as many as
	 * its buffer takes, a frame an skb). */
	for (i = 0; i < 200; i++)
		harness_post(bell, 8 * (i % 4), 8, i);
	rt_launch(&t);
	rt_check_ram(ram);
	assert_int_equal(harness_read(bell, BELL_TOTAL, 8), 1200);

	for (i = 0; i < 700; i++)
		harness_post(bell, 8 * (i % 4), 8, i);
	assert_int_equal(harness_read(bell, BELL_TOTAL, 8), 1900);
	rt_kill(&t, SIGKILL);
	rt_launch(&t);
	rt_check_ram(ram);
	assert_int_equal(harness_read(bell, BELL_TOTAL, 8), 1900);
	/* The same control connection, served by the third daemon. */
	assert_int_equal(rt_counter(c, "restarts"), 2);
	assert_int_equal(rt_counter(c, "state_errors"), 0);

	/* The VM leaves: its fds leave the store. */
	close(ram);
	close(bell);
	ioregion_client_free(c);
	for (i = 0; i < 50 && (rt_stored(&t, "ior-session-") ||
			       rt_stored(&t, "ior-channel-")); i++)
		rt_drain(&t, 100);
	assert_false(rt_stored(&t, "ior-session-"));
	assert_false(rt_stored(&t, "ior-channel-"));
	assert_true(rt_stored(&t, "ior-state"));
	rt_cleanup(&t);
}

/* Writes version 99 into the stored state memfd named name. */
static void rt_corrupt(struct rt *t, const char *name)
{
	uint32_t version = 99;
	unsigned int i;

	for (i = 0; i < t->nstore; i++)
		if (strcmp(t->store[i].name, name) == 0)
			break;
	assert_true(i < t->nstore);
	assert_int_equal(pwrite(t->store[i].fd, &version, 4, 8), 4);
}

static void test_corrupt_state_costs_only_its_region(void **state)
{
	struct ioregion_client *c;
	struct ioregion_region r;
	char name[64];
	struct rt t;
	unsigned int i;
	int ram, bell;

	c = rt_start_vm(&t, &ram);
	assert_int_equal(ioregion_client_open(c, "bell0", &r), 0);
	bell = r.fd;
	for (i = 0; i < 300; i++)
		harness_post(bell, 0, 8, i);
	assert_int_equal(harness_read(bell, BELL_TOTAL, 8), 300);
	rt_kill(&t, SIGTERM);
	snprintf(name, sizeof(name), "ior-region-%llu",
		 (unsigned long long)r.user_data);
	rt_corrupt(&t, name);
	rt_launch(&t);
	/* bell0 starts fresh and still serves; ram0 kept everything. */
	assert_int_equal(harness_read(bell, BELL_TOTAL, 8), 0);
	rt_check_ram(ram);
	assert_int_equal(rt_counter(c, "state_errors"), 1);
	assert_true(rt_log_has(&t, "region bell0: saved state refused: state format version 99, this daemon reads version 1; it starts fresh"));
	close(ram);
	close(bell);
	ioregion_client_free(c);
	rt_cleanup(&t);
}

/* stateslot.c's check word over a slot's state. */
static uint64_t rt_slot_check(const uint8_t *data, uint64_t seq, uint64_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seq ^ (len << 32), w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, data + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	for (; i < len; i++)
		h = (h ^ data[i]) * 0x100000001b3ull;
	return h | 1;
}

/* Rewrites the newest save in the stored state memfd name as a daemon
 * from before the device record (1.2) wrote it: the record's header cut
 * out, the model's fields where it was. */
static void rt_make_legacy(struct rt *t, const char *name)
{
	uint64_t cap, *slot[2], *newest, len;
	uint8_t *map, *data, *rec;
	size_t map_len, hdr;
	uint32_t n1, n2;
	unsigned int i;

	for (i = 0; i < t->nstore; i++)
		if (strcmp(t->store[i].name, name) == 0)
			break;
	assert_true(i < t->nstore);
	map_len = (size_t)lseek(t->store[i].fd, 0, SEEK_END);
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   t->store[i].fd, 0);
	assert_true(map != MAP_FAILED);
	memcpy(&cap, map + 16, 8);
	slot[0] = (uint64_t *)(void *)(map + 64);
	slot[1] = (uint64_t *)(void *)(map + 64 + 32 + cap);
	newest = slot[0][0] > slot[1][0] ? slot[0] : slot[1];
	data = (uint8_t *)(newest + 4);
	len = newest[1];
	rec = memmem(data, len, "IORDEVST", 8);
	assert_non_null(rec);
	/* magic, version, two names, state version, flags, size, length */
	memcpy(&n1, rec + 12, 4);
	memcpy(&n2, rec + 16 + n1, 4);
	hdr = 8 + 4 + 4 + n1 + 4 + n2 + 4 + 4 + 8 + 8;
	memmove(rec, rec + hdr, len - (size_t)(rec - data) - hdr);
	len -= hdr;
	newest[1] = len;
	newest[2] = rt_slot_check(data, newest[0], len);
	munmap(map, map_len);
}

/* An upgrade from a daemon whose saves had no device record: ram0 keeps
 * its memory and counter. */
static void test_upgrade_from_legacy_save(void **state)
{
	struct ioregion_client *c;
	struct ioregion_region *regions;
	char name[64];
	struct rt t;
	int ram, n, i;

	c = rt_start_vm(&t, &ram);
	n = ioregion_client_list(c, NULL, &regions);
	for (i = 0; i < n && strcmp(regions[i].name, "ram0"); i++)
		;
	assert_true(i < n);
	snprintf(name, sizeof(name), "ior-region-%llu",
		 (unsigned long long)regions[i].user_data);
	free(regions);
	rt_kill(&t, SIGTERM);
	rt_make_legacy(&t, name);
	rt_launch(&t);
	rt_check_ram(ram);
	assert_int_equal(rt_counter(c, "state_errors"), 0);
	assert_false(rt_log_has(&t, "region ram0: saved state refused"));
	close(ram);
	ioregion_client_free(c);
	rt_cleanup(&t);
}

static void test_corrupt_record_starts_fresh(void **state)
{
	struct ioregion_client *c;
	struct rt t;
	char *json = NULL;
	int ram, rc;

	c = rt_start_vm(&t, &ram);
	rt_kill(&t, SIGTERM);
	rt_corrupt(&t, "ior-state");
	rt_launch(&t);
	assert_true(rt_log_has(&t, "saved daemon state refused: state format version 99"));
	/* Nothing says what the stored fds were: they are released, and the
	 * VM sees its connection close. */
	rc = ioregion_client_stats(c, NULL, &json);
	assert_true(rc == -ECONNRESET || rc == -EPIPE);
	ioregion_client_free(c);
	close(ram);
	rt_cleanup(&t);
}

/* Edges signalled on efd since the last call; fails after 5 s without. */
static uint64_t rt_edges(int efd)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	eventfd_t n;

	if (poll(&pfd, 1, 5000) != 1)
		fail_msg("no interrupt edge in 5 s");
	assert_int_equal(eventfd_read(efd, &n), 0);
	return n;
}

/* The VMM's eventfd is the daemon's stored one: edges keep arriving on it
 * from the daemons after a restart and after a crash. */
static void test_interrupt_eventfd_survives(void **state)
{
	struct ioregion_client *c = NULL;
	struct rt t;
	FILE *f;
	int bell, efd, round;

	rt_init(&t);
	snprintf(t.config, sizeof(t.config), "%s/config.json", t.dir);
	f = fopen(t.config, "w");
	assert_non_null(f);
	fputs("{ \"regions\": [ { \"name\": \"bell0\", \"device\": \"doorbell\","
	      " \"bus\": \"mmio\", \"address\": \"0xd0001000\", \"size\": \"0x1000\","
	      " \"vms\": [\"vm0\"], \"posted_writes\": true, \"irq\": 5 } ] }", f);
	fclose(f);
	rt_launch(&t);
	assert_int_equal(ioregion_client_connect(t.socket, "restart_test", "vm0",
						 &c), 0);
	bell = harness_open(c, "bell0");
	assert_int_equal(ioregion_client_open_irq(c, 5, &efd), 0);
	/* Before, after a SIGTERM restart, after a SIGKILL one. */
	for (round = 0; ; round++) {
		harness_write(bell, 0, 8, 1);
		assert_true(rt_edges(efd) >= 1);
		if (round == 2)
			break;
		rt_kill(&t, round == 0 ? SIGTERM : SIGKILL);
		rt_launch(&t);
	}
	close(efd);
	close(bell);
	ioregion_client_free(c);
	rt_cleanup(&t);
}

/* PCR 16 of the TPM behind io, after extending it with b (b 0: none). */
static void rt_tpm_pcr16(const struct tis_io *io, uint8_t b, uint8_t *pcr)
{
	uint8_t cmd[TPM_PCR16_EXTEND_LEN], digest[32], resp[4096];
	long n;

	if (b) {
		memset(digest, b, sizeof(digest));
		n = tis_transmit(io, cmd, tpm_cmd_pcr16_extend(cmd, digest),
				 resp, sizeof(resp), 60000);
		assert_true(n >= 10 && tpm_rc(resp) == 0);
	}
	n = tis_transmit(io, tpm_cmd_pcr16_read, sizeof(tpm_cmd_pcr16_read),
			 resp, sizeof(resp), 60000);
	assert_true(n >= 42 && tpm_rc(resp) == 0);
	memcpy(pcr, resp + n - 32, 32);
}

/* A tpm-tis region's swtpm dies with the daemon: the next daemon starts a
 * new one from the state blobs in the region's saved state, so the PCRs
 * a guest extended survive SIGTERM and SIGKILL of the daemon. */
static void test_tpm_keeps_its_pcrs(void **state)
{
	struct ioregion_client *c = NULL;
	uint8_t resp[4096], pcr[32], again[32], zero[32] = { 0 };
	struct tis_io io;
	char cmd[128];
	struct rt t;
	FILE *f;
	int tpm, round;

	if (system("command -v swtpm >/dev/null 2>&1") != 0)
		skip();
	rt_init(&t);
	snprintf(t.config, sizeof(t.config), "%s/config.json", t.dir);
	f = fopen(t.config, "w");
	assert_non_null(f);
	fprintf(f, "{ \"regions\": [ { \"name\": \"tpm0\", \"device\": \"tpm-tis\","
		" \"bus\": \"mmio\", \"address\": \"0xfed40000\", \"size\": 20480,"
		" \"vms\": [\"vm0\"], \"options\": { \"state_dir\": \"%s/tpm\" } } ] }",
		t.dir);
	fclose(f);
	rt_launch(&t);
	assert_int_equal(ioregion_client_connect(t.socket, "restart_test", "vm0",
						 &c), 0);
	tpm = harness_open(c, "tpm0");
	io = harness_tis_io(&tpm);
	assert_true(tis_transmit(&io, tpm_cmd_startup, sizeof(tpm_cmd_startup),
				 resp, sizeof(resp), 60000) == 10);
	rt_tpm_pcr16(&io, 0x77, pcr);
	assert_memory_not_equal(pcr, zero, 32);
	for (round = 0; round < 2; round++) {
		rt_kill(&t, round == 0 ? SIGTERM : SIGKILL);
		rt_launch(&t);
		rt_tpm_pcr16(&io, 0, again);
		assert_memory_equal(pcr, again, 32);
		rt_tpm_pcr16(&io, 0x77, pcr);
	}
	close(tpm);
	ioregion_client_free(c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t.dir);
	rt_cleanup(&t);
	assert_int_equal(system(cmd), 0);
}

/* A UART's unfinished line travels in the saved state to the next
 * daemon, which writes it when the line ends: the daemon that stopped
 * must not write it too (the guest's console would show it twice). */
static void test_uart_line_written_once(void **state)
{
	struct ioregion_client *c = NULL;
	char out[192], got[16] = "", cmd[160];
	const char *ch;
	struct rt t;
	FILE *f;
	int com;

	rt_init(&t);
	snprintf(t.config, sizeof(t.config), "%s/config.json", t.dir);
	snprintf(out, sizeof(out), "%s/com1.out", t.dir);
	f = fopen(t.config, "w");
	assert_non_null(f);
	fprintf(f, "{ \"regions\": [ { \"name\": \"com1\", \"device\": \"uart16550\","
		" \"bus\": \"pio\", \"address\": \"0x3f8\", \"size\": 8,"
		" \"vms\": [\"vm0\"], \"options\": { \"output\": \"file\","
		" \"path\": \"%s\" } } ] }", out);
	fclose(f);
	rt_launch(&t);
	assert_int_equal(ioregion_client_connect(t.socket, "restart_test", "vm0",
						 &c), 0);
	com = harness_open(c, "com1");
	for (ch = "abc"; *ch; ch++)
		harness_write(com, 0, 1, (uint8_t)*ch);
	rt_kill(&t, SIGTERM);
	rt_launch(&t);
	harness_write(com, 0, 1, '\n');
	close(com);
	ioregion_client_free(c);
	/* Its clean stop writes out what the output still holds. */
	rt_cleanup(&t);
	f = fopen(out, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f) ? got : NULL);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t.dir);
	assert_int_equal(system(cmd), 0);
	assert_string_equal(got, "abc\n");
}

/* A migration's destination on this daemon, attached but not yet taken
 * over, is still one after a restart: the source stops again (a restart
 * forgets a stop) and the destination takes the VM over, its ram as the
 * source left it. */
static void test_incoming_survives(void **state)
{
	struct ioregion_client *src, *dst = NULL;
	struct rt t;
	int ram;

	src = rt_start_vm(&t, &ram);
	assert_int_equal(ioregion_client_connect_incoming(t.socket, "dest",
							  "vm0", &dst), 0);
	rt_kill(&t, SIGTERM);
	rt_launch(&t);
	assert_int_equal(ioregion_client_take_over(dst), -EBUSY);
	assert_non_null(strstr(ioregion_client_error(dst),
			       "the source must stop the VM"));
	assert_int_equal(ioregion_client_stop_vm(src, NULL), 0);
	assert_int_equal(ioregion_client_take_over(dst), 0);
	close(ram);
	ram = harness_open(dst, "ram0");
	rt_check_ram(ram);
	close(ram);
	ioregion_client_free(src);
	ioregion_client_free(dst);
	rt_cleanup(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tpm_keeps_its_pcrs),
		cmocka_unit_test(test_restart_and_crash_keep_the_vm),
		cmocka_unit_test(test_corrupt_state_costs_only_its_region),
		cmocka_unit_test(test_corrupt_record_starts_fresh),
		cmocka_unit_test(test_upgrade_from_legacy_save),
		cmocka_unit_test(test_interrupt_eventfd_survives),
		cmocka_unit_test(test_incoming_survives),
		cmocka_unit_test(test_uart_line_written_once),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
