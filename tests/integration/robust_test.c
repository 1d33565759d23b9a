/* SPDX-License-Identifier: MIT */
/*
 * What a client, a guest or the system can do to ioregiond without harming
 * it or the other VMs: a stalled stdout, odd control packets, idle
 * connections, huge replies, other connections' regions, reloads that change
 * only the spelling, large plugs.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "control_io.h"
#include "harness.h"

static const char two_vms[] =
	"{ \"regions\": [\n"
	"  { \"name\": \"con\", \"device\": \"uart16550\", \"bus\": \"pio\","
	"    \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm0\"],"
	"    \"options\": { \"output\": \"stdout\" } },\n"
	"  { \"name\": \"test0\", \"device\": \"testdev\", \"bus\": \"mmio\","
	"    \"address\": 65536, \"size\": 4096, \"vms\": [\"vm0\"] },\n"
	"  { \"name\": \"ram1\", \"device\": \"ram\", \"bus\": \"mmio\","
	"    \"address\": 4096, \"size\": 4096, \"vms\": [\"vm1\"] }\n"
	"] }\n";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A device counter of one (VM, region) from the stats. */
static uint64_t device_stat(const struct harness_daemon *hd, const char *vm,
			    const char *region, const char *counter)
{
	struct ioregion_client *c = harness_connect(hd, NULL);
	json_t *root, *v, *r;
	uint64_t value = UINT64_MAX;
	size_t i, j;
	char *text;

	assert_int_equal(ioregion_client_stats(c, vm, &text), 0);
	root = json_loads(text, 0, NULL);
	assert_non_null(root);
	json_array_foreach(json_object_get(root, "vms"), i, v)
		json_array_foreach(json_object_get(v, "regions"), j, r)
			if (!strcmp(json_string_value(json_object_get(r, "name")),
				    region))
				value = (uint64_t)json_integer_value(json_object_get(
					json_object_get(r, "device"), counter));
	json_decref(root);
	free(text);
	ioregion_client_free(c);
	assert_int_not_equal(value, UINT64_MAX);
	return value;
}

/* A daemon-wide counter from the stats. */
static uint64_t daemon_stat(const struct harness_daemon *hd,
			    const char *counter)
{
	struct ioregion_client *c = harness_connect(hd, NULL);
	json_t *root, *v;
	uint64_t value;
	char *text;

	assert_int_equal(ioregion_client_stats(c, NULL, &text), 0);
	root = json_loads(text, 0, NULL);
	assert_non_null(root);
	v = json_object_get(json_object_get(root, "daemon"), counter);
	assert_non_null(v);
	value = (uint64_t)json_integer_value(v);
	json_decref(root);
	free(text);
	ioregion_client_free(c);
	return value;
}

/* Writes all of buf unless the daemon stops reading for 2 s; returns the
 * bytes written. */
static size_t write_until_stalled(int fd, const void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&pfd, 1, 2000) != 1)
			break;
		n = write(fd, (const char *)buf + off, len - off);
		if (n < 0 && errno == EAGAIN)
			continue;
		assert_true(n > 0);
		off += (size_t)n;
	}
	return off;
}

/* A guest prints 256 KiB through a UART whose output is a pipe nobody
 * reads: the daemon drops what does not fit, counts it, and every other
 * region keeps answering. */
static void test_uart_stdout_stalled(void **state)
{
	enum { LINES = 4096, LINE = 64 };
	static struct ioregion_cmd frames[LINES * LINE];
	struct harness_daemon hd;
	struct ioregion_client *c0, *c1;
	int pipefd[2], con, ram, i;
	size_t sent;
	char out[LINE];

	assert_int_equal(pipe(pipefd), 0);
	harness_prepare(&hd, two_vms);
	hd.stdout_fd = pipefd[1];
	harness_launch(&hd);
	close(pipefd[1]);
	c0 = harness_connect(&hd, "vm0");
	c1 = harness_connect(&hd, "vm1");
	con = harness_open(c0, "con");
	ram = harness_open(c1, "ram1");
	harness_write(ram, 0, 8, 0x5a5a);
	for (i = 0; i < LINES * LINE; i++)
		frames[i] = ioregion_cmd_make(IOREGION_CMD_WRITE,
					      IOREGION_SIZE_1, false, 0, 0,
					      i % LINE == LINE - 1 ? '\n'
								 : 'a' + i % 26);
	assert_int_equal(fcntl(con, F_SETFL, O_NONBLOCK), 0);
	sent = write_until_stalled(con, frames, sizeof(frames));
	/* vm1 is served at once; vm0's UART too. */
	assert_int_equal(harness_read(ram, 0, 8), 0x5a5a);
	assert_int_equal(fcntl(con, F_SETFL, 0), 0);
	assert_int_equal(harness_read(con, 5, 1) & 0x60, 0x60);
	assert_int_equal(sent, sizeof(frames));
	assert_int_equal(device_stat(&hd, "vm0", "con", "lines"), LINES);
	assert_true(device_stat(&hd, "vm0", "con", "output_dropped") > 0);
	/* What did get out is whole lines. */
	assert_int_equal(read(pipefd[0], out, LINE), LINE);
	assert_int_equal(out[LINE - 1], '\n');
	close(con);
	close(ram);
	ioregion_client_free(c0);
	ioregion_client_free(c1);
	harness_stop(&hd);
	close(pipefd[0]);
}

/* The same with the daemon's own log: a UART printing to the log while
 * stderr (the journal) does not read. */
static void test_log_stalled(void **state)
{
	enum { LINES = 4096, LINE = 64 };
	static struct ioregion_cmd frames[LINES * LINE];
	static const char config[] =
		"{ \"regions\": [\n"
		"  { \"name\": \"con\", \"device\": \"uart16550\", \"bus\": \"pio\","
		"    \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm0\"],"
		"    \"options\": { \"output\": \"log\" } },\n"
		"  { \"name\": \"ram1\", \"device\": \"ram\", \"bus\": \"mmio\","
		"    \"address\": 4096, \"size\": 4096, \"vms\": [\"vm1\"] }\n"
		"] }\n";
	struct harness_daemon hd;
	struct ioregion_client *c0, *c1;
	int pipefd[2], con, ram, i;
	size_t sent;

	assert_int_equal(pipe(pipefd), 0);
	harness_prepare(&hd, config);
	hd.stderr_fd = pipefd[1];
	harness_launch(&hd);
	close(pipefd[1]);
	c0 = harness_connect(&hd, "vm0");
	c1 = harness_connect(&hd, "vm1");
	con = harness_open(c0, "con");
	ram = harness_open(c1, "ram1");
	for (i = 0; i < LINES * LINE; i++)
		frames[i] = ioregion_cmd_make(IOREGION_CMD_WRITE,
					      IOREGION_SIZE_1, false, 0, 0,
					      i % LINE == LINE - 1 ? '\n'
								 : 'a' + i % 26);
	assert_int_equal(fcntl(con, F_SETFL, O_NONBLOCK), 0);
	sent = write_until_stalled(con, frames, sizeof(frames));
	assert_int_equal(harness_read(ram, 0, 8), 0);
	/* A read on the UART comes after every posted write before it. */
	assert_int_equal(fcntl(con, F_SETFL, 0), 0);
	assert_int_equal(harness_read(con, 5, 1) & 0x60, 0x60);
	assert_int_equal(sent, sizeof(frames));
	assert_int_equal(device_stat(&hd, "vm0", "con", "lines"), LINES);
	assert_true(daemon_stat(&hd, "log_dropped_bytes") > 0);
	close(con);
	close(ram);
	ioregion_client_free(c0);
	ioregion_client_free(c1);
	harness_stop(&hd);
	close(pipefd[0]);
}

/* Hello as vm, answered. */
static void raw_hello(int fd, const char *vm)
{
	harness_raw_hello(fd, IOR_CONTROL_MAJOR, vm);
	assert_int_equal(harness_raw_reply(fd), 0);
}

/* A ListRegions request, packed. */
static size_t raw_list_request(uint8_t *buf)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__ListRegions list = IOR__LIST_REGIONS__INIT;

	req.id = 2;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_LIST_REGIONS;
	req.list_regions = &list;
	return ior__client_message__pack(&req, buf);
}

/* Sends a valid request with nfds descriptors attached. */
static void raw_send_with_fds(int sock, int nfds)
{
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} u;
	uint8_t req[64];
	struct iovec iov = { .iov_base = req };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = CMSG_SPACE(nfds * sizeof(int)) };
	struct cmsghdr *cm;
	int fds[16], i;

	iov.iov_len = raw_list_request(req);
	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	for (i = 0; i < nfds; i++)
		fds[i] = STDIN_FILENO;
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)iov.iov_len);
}

/* More descriptors than a request may carry: refused for that reason, and
 * not held against the client however often it happens. */
static void test_too_many_fds(void **state)
{
	struct harness_daemon hd;
	int before, fd, i;
	uint8_t req[64];

	harness_start(&hd, NULL);
	before = harness_fd_count_settled(&hd);
	fd = harness_raw_connect(&hd);
	raw_hello(fd, "vm0");
	for (i = 0; i < 12; i++) {
		raw_send_with_fds(fd, 6);
		assert_int_equal(harness_raw_reply(fd), ETOOMANYREFS);
	}
	/* A few descriptors with a request that takes none are closed. */
	raw_send_with_fds(fd, 2);
	assert_int_equal(harness_raw_reply(fd), 0);
	assert_int_equal(send(fd, req, raw_list_request(req), 0) > 0, 1);
	assert_int_equal(harness_raw_reply(fd), 0);
	close(fd);
	harness_wait_fd_count(&hd, before);
	harness_stop(&hd);
}

/* An empty packet is a malformed request, not the end of the connection. */
static void test_empty_packet(void **state)
{
	struct harness_daemon hd;
	uint8_t req[64];
	int fd;

	harness_start(&hd, NULL);
	fd = harness_raw_connect(&hd);
	assert_int_equal(send(fd, "", 0, 0), 0);
	assert_int_equal(harness_raw_reply(fd), EBADMSG);
	raw_hello(fd, "vm0");
	assert_int_equal(send(fd, "", 0, 0), 0);
	assert_int_equal(harness_raw_reply(fd), EBADMSG);
	assert_int_equal(send(fd, req, raw_list_request(req), 0) > 0, 1);
	assert_int_equal(harness_raw_reply(fd), 0);
	close(fd);
	harness_stop(&hd);
}

/* A reload refused with more error text than a packet holds: the message
 * is cut, the connection stays. */
static void test_huge_error_reply(void **state)
{
	enum { BAD = 2000 };
	struct harness_daemon hd;
	struct ioregion_client *admin;
	size_t len = 64 * BAD + 64, off;
	char *json = malloc(len * 2);
	const char *error;
	int i;

	harness_start(&hd, two_vms);
	off = (size_t)sprintf(json, "{ \"regions\": [\n");
	for (i = 0; i < BAD; i++)
		off += (size_t)sprintf(json + off,
				       "%s{\"name\":\"r%d\",\"device\":\"no-such-device-with-a-long-name-%d\","
				       "\"bus\":\"mmio\",\"address\":%d,\"size\":16,\"vms\":[\"vm0\"]}\n",
				       i ? "," : "", i, i, 4096 + 16 * i);
	strcpy(json + off, "] }\n");
	harness_write_config(&hd, json);
	free(json);
	admin = harness_connect(&hd, NULL);
	assert_int_equal(ioregion_client_reload(admin), -EINVAL);
	error = ioregion_client_error(admin);
	assert_non_null(strstr(error, "regions[0].device: unknown device"));
	/* The connection is still there. */
	assert_int_equal(ioregion_client_reload(admin), -EINVAL);
	ioregion_client_free(admin);
	harness_assert_default_vms_alive(&hd);
	harness_stop(&hd);
}

/* A config of n 16-byte ram regions "region-number-NNNN": region i for
 * VM "vm<i % 8>" and "shared-vm" when spread, else all for vm0. The caller
 * frees it. */
static char *many_rams_config(int n, bool spread)
{
	char *json = malloc((size_t)n * 192 + 64);
	size_t off;
	int i;

	assert_non_null(json);
	off = (size_t)sprintf(json, "{ \"regions\": [\n");
	for (i = 0; i < n; i++) {
		off += (size_t)sprintf(json + off,
				       "%s{\"name\":\"region-number-%04d\",\"device\":\"ram\","
				       "\"bus\":\"mmio\",\"address\":%d,\"size\":16,"
				       "\"vms\":[", i ? "," : "", i, 4096 + 16 * i);
		if (spread)
			off += (size_t)sprintf(json + off,
					       "\"vm%d\",\"shared-vm\"", i % 8);
		else
			off += (size_t)sprintf(json + off, "\"vm0\"");
		off += (size_t)sprintf(json + off, "]}\n");
	}
	strcpy(json + off, "] }\n");
	return json;
}

/* Lines ioregionctl prints for command; fails the test if it fails. */
static int ctl_lines(const struct harness_daemon *hd, const char *command)
{
	char cmd[512], line[512];
	int lines = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/ioregionctl -s %s %s",
		 getenv("TOP_BUILDDIR") ? getenv("TOP_BUILDDIR") : ".",
		 hd->socket, command);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		lines++;
	assert_int_equal(pclose(p), 0);
	return lines;
}

/* A config with one ram region "ram0" for vm0 and these daemon settings. */
static void one_ram_config(char *buf, size_t len, const char *daemon)
{
	snprintf(buf, len,
		 "{ \"daemon\": %s,\n"
		 "  \"regions\": [ { \"name\": \"ram0\", \"device\": \"ram\","
		 "    \"bus\": \"mmio\", \"address\": 4096, \"size\": 4096,"
		 "    \"vms\": [\"vm0\"] } ] }\n", daemon);
}

/* Every one of the 4096 regions the daemon accepts can be listed, by the
 * library and by ioregionctl. */
static void test_list_4096_regions(void **state)
{
	enum { N = 4096 };
	struct harness_daemon hd;
	struct ioregion_client *admin, *vm3;
	struct ioregion_region *regions;
	char *json = many_rams_config(N, true);
	int i;

	harness_start(&hd, json);
	free(json);
	admin = harness_connect(&hd, NULL);
	assert_int_equal(ioregion_client_list(admin, "", &regions), N);
	for (i = 0; i < N; i++) {
		char want[32];

		snprintf(want, sizeof(want), "region-number-%04d", i);
		assert_string_equal(regions[i].name, want);
	}
	free(regions);
	vm3 = harness_connect(&hd, "vm3");
	assert_int_equal(ioregion_client_list(vm3, NULL, &regions), N / 8);
	free(regions);
	assert_int_equal(ctl_lines(&hd, "list"), N + 1);	/* and the header */
	ioregion_client_free(vm3);
	ioregion_client_free(admin);
	harness_stop(&hd);
}

/* Stats of more regions than one packet holds come whole, in pages. */
static void test_stats_many_regions(void **state)
{
	enum { N = 4000 };
	struct harness_daemon hd;
	struct ioregion_client *admin, *vm0;
	char *json = many_rams_config(N, false), name[32];
	json_t *root, *vms, *regions;
	int i;

	harness_start(&hd, json);
	free(json);
	vm0 = harness_connect(&hd, "vm0");
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "region-number-%04d", i);
		close(harness_open(vm0, name));
	}
	admin = harness_connect(&hd, NULL);
	root = harness_stats(admin, NULL);
	vms = json_object_get(root, "vms");
	assert_int_equal(json_array_size(vms), 1);
	regions = json_object_get(json_array_get(vms, 0), "regions");
	assert_int_equal(json_array_size(regions), N);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(regions, N - 1), "name")), "region-number-3999");
	assert_non_null(json_object_get(json_object_get(root, "daemon"),
					"regions_opened"));
	json_decref(root);
	assert_int_equal(ctl_lines(&hd, "stats"), N + 1);
	ioregion_client_free(admin);
	ioregion_client_free(vm0);
	harness_stop(&hd);
}

/* A second connection of the same VM cannot close what the first opened. */
static void test_close_region_own_only(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *a, *b;
	int fd;

	harness_start(&hd, NULL);
	a = harness_connect(&hd, "vm0");
	b = harness_connect(&hd, "vm0");
	fd = harness_open(a, "test0");
	assert_int_equal(ioregion_client_close_region(b, "test0"), -EPERM);
	assert_int_equal(harness_read(fd, 0, 4), 0x494f5254);
	assert_int_equal(ioregion_client_close_region(a, "test0"), 0);
	close(fd);
	ioregion_client_free(a);
	ioregion_client_free(b);
	harness_stop(&hd);
}

/* Connections that never say hello cannot lock VMMs out, and go away. */
static void test_idle_connections(void **state)
{
	enum { IDLE = 256 };
	struct harness_daemon hd;
	struct ioregion_client *c;
	int idle[IDLE], before, fd, i, gone = 0;
	char byte, config[512];

	one_ram_config(config, sizeof(config), "{ \"hello_timeout_ms\": 1000 }");
	harness_start(&hd, config);
	before = harness_fd_count_settled(&hd);
	for (i = 0; i < IDLE; i++)
		idle[i] = harness_raw_connect(&hd);
	c = harness_connect(&hd, "vm0");
	fd = harness_open(c, "ram0");
	harness_write(fd, 0, 4, 7);
	assert_int_equal(harness_read(fd, 0, 4), 7);
	/* The idle ones are closed by the daemon (evicted or timed out). */
	usleep(1500 * 1000);
	for (i = 0; i < IDLE; i++) {
		struct pollfd pfd = { .fd = idle[i], .events = POLLIN };

		gone += poll(&pfd, 1, 1000) == 1 && recv(idle[i], &byte, 1, 0) == 0;
		close(idle[i]);
	}
	assert_int_equal(gone, IDLE);
	close(fd);
	ioregion_client_free(c);
	harness_wait_fd_count(&hd, before);
	harness_stop(&hd);
}

/* One uid cannot hold more connections than daemon.max_clients_per_uid. */
static void test_per_uid_limit(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c[5];
	char config[512];
	int i;

	one_ram_config(config, sizeof(config), "{ \"max_clients_per_uid\": 4 }");
	harness_start(&hd, config);
	for (i = 0; i < 4; i++)
		c[i] = harness_connect(&hd, "vm0");
	c[4] = NULL;
	assert_int_equal(ioregion_client_connect(hd.socket, "t", "vm0", &c[4]),
			 -EUSERS);
	assert_non_null(strstr(ioregion_client_error(c[4]), "connections"));
	ioregion_client_free(c[4]);
	ioregion_client_free(c[0]);
	usleep(100 * 1000);
	c[0] = harness_connect(&hd, "vm0");
	for (i = 0; i < 4; i++)
		ioregion_client_free(c[i]);
	harness_stop(&hd);
}

/* A reload that only respells a region keeps it, fd and state. */
static void test_reload_same_meaning(void **state)
{
	static const char before[] =
		"{ \"regions\": [ { \"name\": \"r\", \"device\": \"ram\","
		"  \"bus\": \"pio\", \"address\": \"0x3f8\", \"size\": \"0x8\","
		"  \"vms\": [\"vm0\"], \"comment\": \"old\","
		"  \"options\": { \"fill\": 0 } } ] }\n";
	static const char after[] =
		"{ \"comment\": \"new\", \"regions\": [ { \"comment\": \"new\","
		"  \"vms\": [\"vm0\"], \"name\": \"r\", \"device\": \"ram\","
		"  \"bus\": \"pio\", \"address\": 1016, \"size\": 8,"
		"  \"posted_writes\": false, \"options\": { \"fill\": 0 } } ] }\n";
	struct harness_daemon hd;
	struct ioregion_client *c, *admin;
	struct ioregion_event ev;
	int fd;

	harness_start(&hd, before);
	c = harness_connect(&hd, "vm0");
	assert_int_equal(ioregion_client_subscribe(c), 0);
	fd = harness_open(c, "r");
	harness_write(fd, 0, 8, 0x1122334455667788ull);
	harness_write_config(&hd, after);
	admin = harness_connect(&hd, NULL);
	assert_int_equal(ioregion_client_reload(admin), 0);
	assert_int_equal(harness_read(fd, 0, 8), 0x1122334455667788ull);
	assert_int_equal(ioregion_client_next_event(c, &ev), 0);
	close(fd);
	ioregion_client_free(admin);
	ioregion_client_free(c);
	harness_stop(&hd);
}

struct stall_probe {
	int fd;
	bool stop;		/* atomic: the test thread sets it */
	uint64_t worst_ns, count;
};

/* Reads vm0's ram in a loop; records the slowest answer. */
static void *stall_probe_run(void *arg)
{
	struct stall_probe *p = arg;

	while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
		uint64_t t = now_ns();

		(void)harness_read(p->fd, 0, 4);
		t = now_ns() - t;
		if (t > p->worst_ns)
			p->worst_ns = t;
		p->count++;
	}
	return NULL;
}

/* Plugs and unplugs a ram region of size bytes for vm1 rounds times while
 * vm0 is served; returns the slowest vm0 read meanwhile. */
static uint64_t plug_stall(const struct harness_daemon *hd,
			   struct ioregion_client *admin, const char *size,
			   int rounds, long *rss_growth_kib)
{
	struct ioregion_client *c = harness_connect(hd, "vm0");
	struct stall_probe probe = { .fd = harness_open(c, "ram0") };
	char json[256];
	pthread_t t;
	long rss = harness_rss_kib(hd);
	int i;

	snprintf(json, sizeof(json),
		 "{\"name\":\"big\",\"device\":\"ram\",\"bus\":\"mmio\","
		 "\"address\":\"0x100000000\",\"size\":\"%s\",\"vms\":[\"vm1\"]}",
		 size);
	assert_int_equal(pthread_create(&t, NULL, stall_probe_run, &probe), 0);
	usleep(50 * 1000);
	*rss_growth_kib = 0;
	for (i = 0; i < rounds; i++) {
		long grown;

		assert_int_equal(ioregion_client_plug(admin, json), 0);
		grown = harness_rss_kib(hd) - rss;
		if (grown > *rss_growth_kib)
			*rss_growth_kib = grown;
		assert_int_equal(ioregion_client_unplug(admin, "big"), 0);
	}
	usleep(50 * 1000);
	__atomic_store_n(&probe.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	assert_true(probe.count > 0);
	close(probe.fd);
	ioregion_client_free(c);
	return probe.worst_ns;
}

/* Plugging 64 MiB of ram neither allocates it up front nor makes the other
 * VMs wait while it is set up. */
static void test_plug_big_ram(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *admin, *c;
	uint64_t small, big;
	long small_rss, big_rss;
	int fd;

	harness_start(&hd, NULL);
	admin = harness_connect(&hd, NULL);
	ioregion_client_set_timeout(admin, 60);
	small = plug_stall(&hd, admin, "0x1000", 4, &small_rss);
	big = plug_stall(&hd, admin, "0x4000000", 4, &big_rss);
	print_message("vm0's slowest read: %.2f ms while 4 KiB regions were "
		      "plugged, %.2f ms while 64 MiB ones were (%.1fx); daemon "
		      "RSS grew by %ld KiB and %ld KiB\n", small / 1e6, big / 1e6,
		      (double)big / (double)small, small_rss, big_rss);
	assert_true(big_rss < 8 * 1024);
	/* Generous: the allocation itself once cost ~1 s. */
	assert_true(big < small + 100 * 1000000ull);
	/* The memory is there and zeroed, page by page, as used. */
	assert_int_equal(ioregion_client_plug(admin,
		"{\"name\":\"big\",\"device\":\"ram\",\"bus\":\"mmio\","
		"\"address\":\"0x100000000\",\"size\":\"0x4000000\","
		"\"vms\":[\"vm1\"],\"options\":{\"fill\":165}}"), 0);
	c = harness_connect(&hd, "vm1");
	fd = harness_open(c, "big");
	assert_int_equal(harness_read(fd, 0x3fffff8, 8), 0xa5a5a5a5a5a5a5a5ull);
	harness_write(fd, 0x2000001, 2, 0x1234);
	assert_int_equal(harness_read(fd, 0x2000000, 4), 0xa51234a5);
	close(fd);
	ioregion_client_free(c);
	ioregion_client_free(admin);
	harness_stop(&hd);
}

/* A client of a uid that is neither root, the daemon's, nor in the
 * socket's group is refused, counted and logged with its uid. Runs as root
 * (it needs another uid); the socket is opened to everyone so that the
 * daemon, not the file mode, is what refuses. */
/* Connects as uid nobody, in the given supplementary groups, as vm (NULL:
 * an admin tool); returns what ioregion_client_connect returned (0, or
 * -EACCES when refused), and for a VM that got in, whether it could read
 * its test device (1). */
static int other_uid_connect(const struct harness_daemon *hd, gid_t *groups,
			     size_t ngroups, const char *vm)
{
	const uid_t nobody = 65534;
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ioregion_client *c = NULL;
		struct ioregion_region r;
		uint64_t id = 0;
		int rc;

		if (setgroups(ngroups, groups) < 0 || setgid(nobody) < 0 ||
		    setuid(nobody) < 0)
			_exit(100);
		rc = ioregion_client_connect(hd->socket, "intruder", vm, &c);
		if (rc == 0 && vm)
			rc = ioregion_client_open(c, "test0", &r) == 0 &&
			     ioregion_region_read(&r, 0, 4, &id) == 0 &&
			     id == 0x494f5254u;
		_exit(rc < 0 ? -rc : rc);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 100);
	return WEXITSTATUS(status) == EACCES ? -EACCES : WEXITSTATUS(status);
}

/* The log is written by its own thread: give it a moment. */
static void assert_logged(const struct harness_daemon *hd, const char *pattern)
{
	char cmd[512];
	int i;

	snprintf(cmd, sizeof(cmd), "grep -q '%s' %s", pattern, hd->log);
	for (i = 0; i < 50 && system(cmd) != 0; i++)
		usleep(100 * 1000);
	assert_int_equal(system(cmd), 0);
}

/* A socket whose mode lets everyone connect does not let everyone in: a
 * uid outside the socket's group is refused, as a VM and as an admin tool,
 * and the refusal is logged; the same uid in the group is served. */
static void test_other_uid_refused(void **state)
{
	struct harness_daemon hd;
	struct stat st;
	gid_t group;

	if (geteuid() != 0)
		skip();
	harness_start(&hd, NULL);
	assert_int_equal(chmod(hd.socket, 0666), 0);
	assert_int_equal(chmod(hd.dir, 0755), 0);
	assert_int_equal(stat(hd.socket, &st), 0);
	group = st.st_gid;
	assert_int_not_equal(group, 65534);
	assert_int_equal(other_uid_connect(&hd, NULL, 0, "vm0"), -EACCES);
	assert_int_equal(other_uid_connect(&hd, NULL, 0, NULL), -EACCES);
	assert_logged(&hd, "uid 65534): refused: uid 65534 is not allowed to connect");
	assert_int_equal(other_uid_connect(&hd, &group, 1, "vm0"), 1);
	assert_logged(&hd, "client intruder (pid [0-9]*, uid 65534) attached as VM vm0$");
	harness_stop(&hd);
}

/* Validating a config leaves no trace: the UART's output file is created
 * by the daemon's first line, not by --check-config. */
static void test_check_config_creates_nothing(void **state)
{
	char dir[] = "/tmp/ioregiond-check-XXXXXX", config[128], out[128];
	char cmd[512];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(config, sizeof(config), "%s/config.json", dir);
	snprintf(out, sizeof(out), "%s/console.log", dir);
	f = fopen(config, "w");
	assert_non_null(f);
	fprintf(f, "{ \"regions\": [ { \"name\": \"con\", \"device\": \"uart16550\","
		   " \"bus\": \"pio\", \"address\": 1016, \"size\": 8,"
		   " \"vms\": [\"vm0\"], \"options\": { \"output\": \"file\","
		   " \"path\": \"%s\" } } ] }\n", out);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s --check-config -c %s >/dev/null",
		 harness_binary(), config);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(access(out, F_OK), -1);
	unlink(config);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uart_stdout_stalled),
		cmocka_unit_test(test_log_stalled),
		cmocka_unit_test(test_too_many_fds),
		cmocka_unit_test(test_empty_packet),
		cmocka_unit_test(test_huge_error_reply),
		cmocka_unit_test(test_list_4096_regions),
		cmocka_unit_test(test_stats_many_regions),
		cmocka_unit_test(test_close_region_own_only),
		cmocka_unit_test(test_idle_connections),
		cmocka_unit_test(test_per_uid_limit),
		cmocka_unit_test(test_reload_same_meaning),
		cmocka_unit_test(test_plug_big_ram),
		cmocka_unit_test(test_check_config_creates_nothing),
		cmocka_unit_test(test_other_uid_refused),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("robustness", tests, NULL, NULL);
}
