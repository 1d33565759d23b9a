/* SPDX-License-Identifier: MIT */
/*
 * The real ioregiond, started standalone, driven through its control socket
 * and region fds exactly as a VMM and KVM would drive it.
 */
#include "autoconfig.h"

#include <errno.h>
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
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "control_io.h"
#include "harness.h"

/* Offsets in the testdev, doorbell and mailbox models. */
#define TESTDEV_SCRATCH 0x10
#define TESTDEV_ECHO 0x40
#define TESTDEV_OFFSETS 0x100
#define DOORBELL_COUNT(i) (0x200 + 8 * (i))
#define DOORBELL_TOTAL 0x400

static int setup_default(void **state)
{
	struct harness_daemon *hd = malloc(sizeof(*hd));

	harness_start(hd, NULL);
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

/* A stats counter of one (VM, region), from the JSON reply. */
static uint64_t stat_of(const struct harness_daemon *hd, const char *vm,
			const char *region, const char *counter)
{
	struct ioregion_client *c = harness_connect(hd, NULL);
	json_t *root, *vms, *v, *regions, *r;
	size_t i, j;
	uint64_t value = UINT64_MAX;
	char *text;

	assert_int_equal(ioregion_client_stats(c, vm, &text), 0);
	root = json_loads(text, 0, NULL);
	assert_non_null(root);
	vms = json_object_get(root, "vms");
	json_array_foreach(vms, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "name")), vm))
			continue;
		regions = json_object_get(v, "regions");
		json_array_foreach(regions, j, r)
			if (!strcmp(json_string_value(json_object_get(r, "name")),
				    region))
				value = (uint64_t)json_integer_value(
					json_object_get(r, counter));
	}
	json_decref(root);
	free(text);
	ioregion_client_free(c);
	assert_int_not_equal(value, UINT64_MAX);
	return value;
}

static void test_hello_and_list(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c = harness_connect(hd, "vm1");
	struct ioregion_region *regions;
	int n, i;
	bool console = false, mbox = false;

	assert_string_equal(ioregion_client_daemon_version(c), PACKAGE_VERSION);
	n = ioregion_client_list(c, NULL, &regions);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		if (!strcmp(regions[i].name, "console1")) {
			console = true;
			assert_int_equal(regions[i].bus, IOREGION_BUS_PIO);
			assert_int_equal(regions[i].address, 0x3f8);
			assert_int_equal(regions[i].size, 8);
		}
		if (!strcmp(regions[i].name, "mbox")) {
			mbox = true;
			assert_int_equal(regions[i].nvms, 2);
		}
	}
	assert_true(console && mbox);
	free(regions);
	/* A region of another VM is neither listed nor openable. */
	{
		struct ioregion_region r;

		assert_int_equal(ioregion_client_open(c, "ram0", &r), -EACCES);
		assert_int_equal(ioregion_client_open(c, "nope", &r), -ENOENT);
	}
	ioregion_client_free(c);
}

static void test_access_sizes(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c = harness_connect(hd, "vm0");
	int ram = harness_open(c, "ram0");
	int test = harness_open(c, "test0");
	static const unsigned int sizes[] = { 1, 2, 4, 8 };
	static const uint64_t offsets[] = { 0, 1, 3, 7, 0x100, 0x7ff, 0xff8 };
	size_t i, j;

	for (i = 0; i < 4; i++) {
		uint64_t mask = ioregion_size_mask(sizes[i]);

		for (j = 0; j < sizeof(offsets) / sizeof(offsets[0]); j++) {
			uint64_t v = 0x8877665544332211ull * (j + 1);

			harness_write(ram, offsets[j], sizes[i], v);
			assert_int_equal(harness_read(ram, offsets[j], sizes[i]),
					 v & mask);
		}
		harness_write(test, TESTDEV_ECHO, sizes[i], UINT64_MAX);
		assert_int_equal(harness_read(test, TESTDEV_ECHO, sizes[i]), mask);
		assert_int_equal(harness_read(test, TESTDEV_OFFSETS + 8, sizes[i]),
				 (TESTDEV_OFFSETS + 8) & mask);
		harness_write(test, TESTDEV_SCRATCH + 3, sizes[i], 0xa5a5a5a5a5a5a5a5ull);
		assert_int_equal(harness_read(test, TESTDEV_SCRATCH + 3, sizes[i]),
				 0xa5a5a5a5a5a5a5a5ull & mask);
	}
	/* Out of range: all-ones, counted, and the fd keeps working. */
	assert_int_equal(harness_read(ram, 0xffe, 4), 0xffffffffu);
	assert_int_equal(harness_read(ram, 0, 1), 0x11);
	assert_int_equal(stat_of(hd, "vm0", "ram0", "errors"), 1);
	close(ram);
	close(test);
	ioregion_client_free(c);
	harness_assert_default_vms_alive(hd);
}

static void test_posted_writes_none_lost(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c = harness_connect(hd, "vm0");
	int bell = harness_open(c, "bell0");
	struct ioregion_cmd burst[500];
	unsigned int i, b;
	const unsigned int total = 100000;

	for (b = 0; b < total / 500; b++) {
		for (i = 0; i < 500; i++)
			burst[i] = ioregion_cmd_make(IOREGION_CMD_WRITE,
						     IOREGION_SIZE_4, false, 0,
						     8 * (i % 4), b * 500 + i);
		/* A burst may straddle frame boundaries in the socket. */
		size_t off = 0, len = sizeof(burst);

		while (off < len) {
			ssize_t n = write(bell, (char *)burst + off, len - off);

			assert_true(n > 0);
			off += (size_t)n;
		}
	}
	assert_int_equal(harness_read(bell, DOORBELL_TOTAL, 8), total);
	for (i = 0; i < 4; i++)
		assert_int_equal(harness_read(bell, DOORBELL_COUNT(i), 8),
				 total / 4);
	assert_int_equal(harness_read(bell, 8 * 3, 4), total - 1);
	assert_int_equal(stat_of(hd, "vm0", "bell0", "posted"), total);
	/* Drained in batches, not one by one. */
	assert_true(stat_of(hd, "vm0", "bell0", "batches") < total / 4);
	close(bell);
	ioregion_client_free(c);
	harness_assert_default_vms_alive(hd);
}

static void test_malformed_frames(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c = harness_connect(hd, "vm0");
	int fd = harness_open(c, "test0");
	struct ioregion_cmd cmd;
	struct ioregion_resp resp;

	/* Unknown command wanting a response: all-ones. */
	cmd = ioregion_cmd_make(7, IOREGION_SIZE_4, true, 0, 0, 0);
	harness_send_frame(fd, &cmd);
	assert_true(harness_recv_resp(fd, &resp, 5000));
	assert_int_equal(resp.data, UINT64_MAX);
	/* Size exponent above 3. */
	cmd = ioregion_cmd_make(IOREGION_CMD_READ, 0, true, 0, 0, 0);
	cmd.info = IOREGION_INFO_RESP | 5;
	harness_send_frame(fd, &cmd);
	assert_true(harness_recv_resp(fd, &resp, 5000));
	assert_int_equal(resp.data, UINT64_MAX);
	/* A read without the response bit gets no answer ... */
	cmd = ioregion_cmd_make(IOREGION_CMD_READ, IOREGION_SIZE_4, false, 0,
				0, 0);
	harness_send_frame(fd, &cmd);
	assert_false(harness_recv_resp(fd, &resp, 200));
	/* ... reserved bits and pad are ignored ... */
	cmd = ioregion_cmd_make(IOREGION_CMD_READ, IOREGION_SIZE_4, true, 0, 0, 0);
	cmd.info |= 0xe0;
	memset(cmd.pad, 0xff, sizeof(cmd.pad));
	harness_send_frame(fd, &cmd);
	assert_true(harness_recv_resp(fd, &resp, 5000));
	assert_int_equal(resp.data, 0x494f5254);
	/* ... and a frame split over two writes is put back together. */
	cmd = ioregion_cmd_make(IOREGION_CMD_READ, IOREGION_SIZE_4, true, 0,
				0x104, 0);
	assert_int_equal(write(fd, &cmd, 13), 13);
	assert_false(harness_recv_resp(fd, &resp, 100));
	assert_int_equal(write(fd, (char *)&cmd + 13, 19), 19);
	assert_true(harness_recv_resp(fd, &resp, 5000));
	assert_int_equal(resp.data, 0x104);
	assert_int_equal(stat_of(hd, "vm0", "test0", "errors"), 3);
	close(fd);
	ioregion_client_free(c);
	harness_assert_default_vms_alive(hd);
}

static void test_peer_closes_mid_stream(void **state)
{
	struct harness_daemon *hd = *state;
	int before = harness_fd_count_settled(hd);
	struct ioregion_client *c = harness_connect(hd, "vm0");
	int fd = harness_open(c, "ram0");
	struct ioregion_cmd cmd = ioregion_cmd_make(IOREGION_CMD_READ,
						    IOREGION_SIZE_8, true, 0,
						    0, 0);

	harness_write(fd, 0, 8, 42);
	/* Half a frame, then gone, with reads in flight. */
	harness_send_frame(fd, &cmd);
	assert_int_equal(write(fd, &cmd, 10), 10);
	close(fd);
	ioregion_client_free(c);
	harness_wait_fd_count(hd, before);
	/* The region can be opened again and kept its state. */
	c = harness_connect(hd, "vm0");
	fd = harness_open(c, "ram0");
	assert_int_equal(harness_read(fd, 0, 8), 42);
	close(fd);
	ioregion_client_free(c);
	harness_assert_default_vms_alive(hd);
}

static void test_open_twice_busy(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *a = harness_connect(hd, "vm0");
	struct ioregion_client *b = harness_connect(hd, "vm0");
	struct ioregion_region r;
	int fd = harness_open(a, "test0");

	assert_int_equal(ioregion_client_open(b, "test0", &r), -EBUSY);
	assert_int_equal(ioregion_client_close_region(a, "test0"), 0);
	assert_int_equal(ioregion_client_open(b, "test0", &r), 0);
	close(r.fd);
	close(fd);
	ioregion_client_free(a);
	ioregion_client_free(b);
}

static void test_shared_mailbox(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c0 = harness_connect(hd, "vm0");
	struct ioregion_client *c1 = harness_connect(hd, "vm1");
	int m0 = harness_open(c0, "mbox");
	int m1 = harness_open(c1, "mbox");

	assert_int_equal(harness_read(m0, 0x04, 4), 0);
	assert_int_equal(harness_read(m1, 0x04, 4), 1);
	harness_write(m0, 0x10, 8, 0x1122334455667788ull);
	assert_int_equal(harness_read(m1, 0x24, 4), 1);
	assert_int_equal(harness_read(m1, 0x20, 4), 0);
	assert_int_equal(harness_read(m1, 0x18, 8), 0x1122334455667788ull);
	harness_write(m1, 0x10, 4, 0xcafe);
	assert_int_equal(harness_read(m0, 0x18, 4), 0xcafe);
	assert_int_equal(harness_read(m0, 0x24, 4), 0);
	close(m0);
	close(m1);
	ioregion_client_free(c0);
	ioregion_client_free(c1);
}

/* ResetVm: vm0's devices go back to power-on state; what vm0 sent into
 * vm1's inbox of the shared mailbox stays (who may reset whom:
 * test_access_rules). */
static void test_reset_vm(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *c0 = harness_connect(hd, "vm0");
	struct ioregion_client *c1 = harness_connect(hd, "vm1");
	struct ioregion_client *admin = harness_connect(hd, NULL);
	int ram = harness_open(c0, "ram0"), test = harness_open(c0, "test0");
	int uart = harness_open(c0, "console0");
	int m0 = harness_open(c0, "mbox"), m1 = harness_open(c1, "mbox");

	harness_write(ram, 0x100, 8, 0x1122334455667788ull);
	harness_write(test, 0x10, 4, 0xabcd);
	harness_write(uart, 7, 1, 0x5a);		/* SCR */
	harness_write(m0, 0x10, 4, 0x1111);		/* to vm1 */
	harness_write(m1, 0x10, 4, 0x2222);		/* to vm0 */
	assert_int_equal(harness_read(m0, 0x24, 4), 1);

	assert_int_equal(ioregion_client_reset_vm(c0, NULL), 0);
	assert_int_equal(harness_read(ram, 0x100, 8), 0);
	assert_int_equal(harness_read(test, 0x10, 4), 0);
	assert_int_equal(harness_read(uart, 7, 1), 0);
	assert_int_equal(harness_read(m0, 0x24, 4), 0);
	assert_int_equal(harness_read(m1, 0x24, 4), 1);
	assert_int_equal(harness_read(m1, 0x18, 4), 0x1111);
	/* An admin names the VM; without a name there is none to reset. */
	assert_int_equal(ioregion_client_reset_vm(admin, NULL), -EINVAL);
	assert_int_equal(ioregion_client_reset_vm(admin, "vm1"), 0);

	close(ram);
	close(test);
	close(uart);
	close(m0);
	close(m1);
	ioregion_client_free(c0);
	ioregion_client_free(c1);
	ioregion_client_free(admin);
}

static void test_malformed_control(void **state)
{
	struct harness_daemon *hd = *state;
	int before = harness_fd_count_settled(hd);
	static uint8_t big[IOR_CONTROL_MAX_PACKET + 100];
	const char garbage[] = "\xff\xff\xff\xff\x0f garbage";
	int fd = harness_raw_connect(hd), passed[2], i;
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__OpenRegion open = IOR__OPEN_REGION__INIT;

	/* Garbage, and a request before hello: error replies. */
	assert_int_equal(send(fd, garbage, sizeof(garbage), 0), sizeof(garbage));
	assert_int_equal(harness_raw_reply(fd), EBADMSG);
	open.name = "ram0";
	req.id = 9;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_OPEN_REGION;
	req.open_region = &open;
	assert_int_equal(control_send(fd, &req.base, -1), 0);
	assert_int_equal(harness_raw_reply(fd), EPROTO);
	/* Oversized packet. */
	memset(big, 0x5a, sizeof(big));
	assert_int_equal(send(fd, big, sizeof(big), 0), sizeof(big));
	assert_int_equal(harness_raw_reply(fd), EMSGSIZE);
	/* Bad names are refused field by field. */
	open.name = "../../etc";
	assert_int_equal(control_send(fd, &req.base, -1), 0);
	assert_int_equal(harness_raw_reply(fd), EINVAL);
	/* Descriptors a client sends are closed, not kept. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, passed), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(control_send(fd, &req.base, passed[0]), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(harness_raw_reply(fd), EINVAL);
	close(passed[0]);
	close(passed[1]);
	/* The eighth strike disconnects. */
	assert_int_equal(control_send(fd, &req.base, -1), 0);
	assert_int_equal(harness_raw_reply(fd), EINVAL);
	assert_int_equal(harness_raw_reply(fd), -1);
	close(fd);
	/* A major version mismatch is refused, clearly, then closed. */
	fd = harness_raw_connect(hd);
	harness_raw_hello(fd, 99, "vm0");
	assert_int_equal(harness_raw_reply(fd), EPROTONOSUPPORT);
	assert_int_equal(harness_raw_reply(fd), -1);
	close(fd);
	harness_wait_fd_count(hd, before);
	harness_assert_default_vms_alive(hd);
}

static const char reload_a[] =
	"{ \"regions\": [\n"
	"  { \"name\": \"keep\", \"device\": \"ram\", \"bus\": \"mmio\","
	"    \"address\": 4096, \"size\": 4096, \"vms\": [\"vm0\", \"vm1\"] },\n"
	"  { \"name\": \"gone\", \"device\": \"testdev\", \"bus\": \"mmio\","
	"    \"address\": 8192, \"size\": 4096, \"vms\": [\"vm0\"] },\n"
	"  { \"name\": \"changed\", \"device\": \"ram\", \"bus\": \"pio\","
	"    \"address\": 256, \"size\": 16, \"vms\": [\"vm0\"] }\n"
	"] }\n";
static const char reload_b[] =
	"{ \"regions\": [\n"
	"  { \"name\": \"keep\", \"device\": \"ram\", \"bus\": \"mmio\","
	"    \"address\": 4096, \"size\": 4096, \"vms\": [\"vm0\", \"vm1\"] },\n"
	"  { \"name\": \"changed\", \"device\": \"ram\", \"bus\": \"pio\","
	"    \"address\": 256, \"size\": 32, \"vms\": [\"vm0\"] },\n"
	"  { \"name\": \"new\", \"device\": \"doorbell\", \"bus\": \"mmio\","
	"    \"address\": 65536, \"size\": 4096, \"vms\": [\"vm0\"],"
	"    \"posted_writes\": true }\n"
	"] }\n";
static const char reload_bad[] =
	"{ \"regions\": [\n"
	"  { \"name\": \"keep\", \"device\": \"ram\", \"bus\": \"mmio\","
	"    \"address\": 4096, \"size\": 4096, \"vms\": [\"vm0\"] },\n"
	"  { \"name\": \"clash\", \"device\": \"ram\", \"bus\": \"mmio\","
	"    \"address\": 4100, \"size\": 16, \"vms\": [\"vm0\"] }\n"
	"] }\n";

static bool region_in(struct ioregion_client *c, const char *name)
{
	struct ioregion_region *regions;
	int n = ioregion_client_list(c, NULL, &regions), i;
	bool found = false;

	for (i = 0; i < n; i++)
		found |= !strcmp(regions[i].name, name);
	free(regions);
	return found;
}

/* Waits for the next event; fails the test after 5 s. */
static void next_event(struct ioregion_client *c, struct ioregion_event *ev)
{
	struct pollfd pfd = { .fd = ioregion_client_fd(c), .events = POLLIN };
	int i;

	for (i = 0; i < 50; i++) {
		if (ioregion_client_next_event(c, ev) == 1)
			return;
		poll(&pfd, 1, 100);
	}
	fail_msg("no event came");
}

static void test_reload(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c, *c1, *admin;
	struct ioregion_event ev;
	struct ioregion_resp resp;
	int keep, keep1, gone, changed, i;
	bool removed_gone = false, removed_changed = false, added_new = false,
	     added_changed = false;
	char *errors;

	harness_start(&hd, reload_a);
	c = harness_connect(&hd, "vm0");
	c1 = harness_connect(&hd, "vm1");
	keep = harness_open(c, "keep");
	keep1 = harness_open(c1, "keep");
	gone = harness_open(c, "gone");
	changed = harness_open(c, "changed");
	harness_write(keep, 8, 8, 0xfeedf00d);
	assert_int_equal(ioregion_client_subscribe(c), 0);

	harness_write_config(&hd, reload_b);
	admin = harness_connect(&hd, NULL);
	assert_int_equal(ioregion_client_reload(admin), 0);
	/* Unchanged: same fd, same device state. Removed or changed: EOF. */
	assert_int_equal(harness_read(keep, 8, 8), 0xfeedf00d);
	assert_int_equal(harness_read(keep1, 8, 8), 0xfeedf00d);
	assert_false(harness_recv_resp(gone, &resp, 1000));
	assert_int_equal(read(gone, &resp, sizeof(resp)), 0);
	assert_int_equal(read(changed, &resp, sizeof(resp)), 0);
	for (i = 0; i < 4; i++) {
		next_event(c, &ev);
		if (ev.type == IOREGION_EVENT_REGION_REMOVED) {
			removed_gone |= !strcmp(ev.region.name, "gone");
			removed_changed |= !strcmp(ev.region.name, "changed");
		} else {
			added_new |= !strcmp(ev.region.name, "new");
			if (!strcmp(ev.region.name, "changed")) {
				added_changed = true;
				assert_int_equal(ev.region.size, 32);
			}
		}
	}
	assert_true(removed_gone && removed_changed && added_new && added_changed);
	assert_false(region_in(c, "gone"));
	assert_true(region_in(c, "new"));

	/* An invalid config is refused whole, with the reason. */
	harness_write_config(&hd, reload_bad);
	assert_int_equal(ioregion_client_reload(admin), -EINVAL);
	errors = strdup(ioregion_client_error(admin));
	assert_non_null(strstr(errors, "regions[1].address: 0x1004+16 overlaps region \"keep\" of VM \"vm0\""));
	free(errors);
	assert_true(region_in(c, "new"));
	assert_int_equal(harness_read(keep, 8, 8), 0xfeedf00d);

	/* SIGHUP reloads too. */
	harness_write_config(&hd, reload_a);
	kill(hd.pid, SIGHUP);
	for (i = 0; i < 200 && !region_in(c, "gone"); i++)
		usleep(10000);
	assert_true(region_in(c, "gone"));
	assert_int_equal(harness_read(keep, 8, 8), 0xfeedf00d);

	close(keep);
	close(keep1);
	close(gone);
	close(changed);
	ioregion_client_free(c);
	ioregion_client_free(c1);
	ioregion_client_free(admin);
	harness_stop(&hd);
}

static void test_plug_unplug(void **state)
{
	struct harness_daemon *hd = *state;
	struct ioregion_client *admin = harness_connect(hd, NULL);
	struct ioregion_client *c = harness_connect(hd, "vm1");
	struct ioregion_event ev;
	int fd;

	assert_int_equal(ioregion_client_subscribe(c), 0);
	assert_int_equal(ioregion_client_plug(admin,
		"{\"name\":\"hot\",\"device\":\"testdev\",\"bus\":\"mmio\","
		"\"address\":\"0xe0000000\",\"size\":4096,\"vms\":[\"vm1\"]}"), 0);
	next_event(c, &ev);
	assert_int_equal(ev.type, IOREGION_EVENT_REGION_ADDED);
	assert_string_equal(ev.region.name, "hot");
	fd = harness_open(c, "hot");
	assert_int_equal(harness_read(fd, 0, 4), 0x494f5254);
	/* Overlap with an existing region of the VM is refused. */
	assert_int_equal(ioregion_client_plug(admin,
		"{\"name\":\"hot2\",\"device\":\"ram\",\"bus\":\"mmio\","
		"\"address\":\"0xe0000800\",\"size\":16,\"vms\":[\"vm1\"]}"), -EINVAL);
	assert_int_equal(ioregion_client_unplug(admin, "hot"), 0);
	next_event(c, &ev);
	assert_int_equal(ev.type, IOREGION_EVENT_REGION_REMOVED);
	assert_int_equal(ioregion_client_unplug(admin, "hot"), -ENOENT);
	close(fd);
	ioregion_client_free(c);
	ioregion_client_free(admin);
	harness_assert_default_vms_alive(hd);
}

static void test_access_rules(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c = NULL;
	char config[1024];

	snprintf(config, sizeof(config),
		 "{ \"access\": [ { \"uid\": %u, \"vms\": [\"vm0\"] } ],\n"
		 "  \"regions\": [\n"
		 "  { \"name\": \"a\", \"device\": \"ram\", \"bus\": \"mmio\","
		 "    \"address\": 4096, \"size\": 16, \"vms\": [\"vm0\"] },\n"
		 "  { \"name\": \"b\", \"device\": \"ram\", \"bus\": \"mmio\","
		 "    \"address\": 4096, \"size\": 16, \"vms\": [\"vm1\"] } ] }\n",
		 (unsigned int)getuid());
	harness_start(&hd, config);
	assert_int_equal(ioregion_client_connect(hd.socket, "t", "vm1", &c),
			 -EACCES);
	ioregion_client_free(c);
	c = harness_connect(&hd, "vm0");
	assert_false(ioregion_client_is_admin(c));
	assert_int_equal(ioregion_client_reload(c), -EPERM);
	/* Its own VM only. */
	assert_int_equal(ioregion_client_reset_vm(c, "vm1"), -EACCES);
	assert_int_equal(ioregion_client_reset_vm(c, NULL), 0);
	close(harness_open(c, "a"));
	ioregion_client_free(c);
	/* harness_stop needs no admin: SIGTERM. */
	harness_stop(&hd);
}

static void test_stale_socket_and_second_daemon(void **state)
{
	struct harness_daemon *hd = *state;
	struct harness_daemon stale;
	char cmd[512];
	int fd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	/* A second daemon on a live socket refuses to start. */
	snprintf(cmd, sizeof(cmd), "%s -s %s >/dev/null 2>&1",
		 harness_binary(),
		 hd->socket);
	assert_int_not_equal(system(cmd), 0);
	harness_assert_default_vms_alive(hd);
	/* A stale socket file is replaced: the daemon answers on it and
	 * stops cleanly. */
	harness_prepare(&stale, NULL);
	strcpy(sa.sun_path, stale.socket);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	harness_launch(&stale);
	harness_stop(&stale);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello_and_list, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_access_sizes, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_posted_writes_none_lost, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_frames, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes_mid_stream, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_open_twice_busy, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_shared_mailbox, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_reset_vm, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_control, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_plug_unplug, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_and_second_daemon, setup_default, teardown),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_access_rules),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("ioregiond", tests, NULL, NULL);
}
