/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the control path. Packets a client sends go through a
 * real SOCK_SEQPACKET connection to a session of a daemon serving a small
 * config, with the event loop turning between packets: protobuf decoding,
 * validation, the hello/attach state machine, list, open, close, stats,
 * subscribe, reload, plug and unplug. Input: packets of [2-byte length,
 * bytes]. The daemon is rebuilt for every input, so inputs do not depend
 * on each other; its first byte says whether the client is an admin or
 * only allowed VM vm0 by an access rule.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pollset.h"
#include "region.h"
#include "regionset.h"
#include "session.h"
#include "vm.h"
#include "fuzz.h"

/* The regions, after the daemon settings and access rules. */
static const char fuzz_control_regions[] =
	"\"regions\": ["
	" { \"name\": \"ram0\", \"device\": \"ram\", \"bus\": \"mmio\","
	"   \"address\": 0, \"size\": 4096, \"vms\": [\"vm0\"] },"
	" { \"name\": \"bell0\", \"device\": \"doorbell\", \"bus\": \"mmio\","
	"   \"address\": 4096, \"size\": 4096, \"vms\": [\"vm0\"],"
	"   \"posted_writes\": true },"
	" { \"name\": \"mbox\", \"device\": \"mailbox\", \"bus\": \"mmio\","
	"   \"address\": 12288, \"size\": 4096, \"vms\": [\"vm0\", \"vm1\"] },"
	" { \"name\": \"con1\", \"device\": \"uart16550\", \"bus\": \"pio\","
	"   \"address\": 1016, \"size\": 8, \"vms\": [\"vm1\"],"
	"   \"options\": { \"output\": \"none\" } } ] }";

static struct ioregiond fuzz_d;

static void fuzz_control_start(bool admin)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char text[2048];

	snprintf(text, sizeof(text),
		 "{ \"daemon\": { \"max_strikes\": 1000 }, %s%u%s %s",
		 admin ? "\"comment\": \"" : "\"access\": [ { \"uid\": ",
		 (unsigned int)getuid(),
		 admin ? "\"," : ", \"vms\": [\"vm0\"] } ],",
		 fuzz_control_regions);
	cfg = config_parse(text, &errs);
	if (!cfg || regionset_apply(&fuzz_d, cfg, &errs) < 0)
		abort();
}

static void fuzz_control_stop(void)
{
	struct region *r;

	session_free_all(&fuzz_d);
	while ((r = TAILQ_FIRST(&fuzz_d.regions)))
		regionset_remove(r);
	vm_free_all(&fuzz_d);
	config_free(fuzz_d.config);
	fuzz_d.config = NULL;
}

/* Turns the loop and reads every reply, closing the fds that came. */
static void fuzz_control_turn(int client)
{
	static uint8_t buf[IOR_CONTROL_MAX_PACKET];
	ssize_t n;
	int fd;

	do {
		event_base_loop(fuzz_d.base, EVLOOP_NONBLOCK);
		n = control_recv(client, buf, sizeof(buf), &fd, MSG_DONTWAIT);
		if (fd >= 0)
			close(fd);
	} while (n > 0 || n == -ENOMSG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	int sv[2];

	if (!fuzz_d.base) {
		fuzz_d.base = event_base_new();
		if (worker_main_init(&fuzz_d) < 0)
			abort();
		TAILQ_INIT(&fuzz_d.regions);
		TAILQ_INIT(&fuzz_d.vms);
		TAILQ_INIT(&fuzz_d.sessions);
		fuzz_d.notify = session_notify;
		fuzz_quiet_log();
	}
	if (size < 1)
		return 0;
	fuzz_control_start(data[off++] & 1);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0 ||
	    session_new(&fuzz_d, sv[0]) < 0)
		abort();
	while (size - off >= 2) {
		size_t len = (size_t)data[off] | (size_t)data[off + 1] << 8;

		off += 2;
		if (len > size - off)
			len = size - off;
		if (send(sv[1], data + off, len, MSG_NOSIGNAL) < 0 &&
		    errno != EAGAIN)
			break;
		off += len;
		fuzz_control_turn(sv[1]);
	}
	close(sv[1]);
	event_base_loop(fuzz_d.base, EVLOOP_NONBLOCK);
	event_base_loop(fuzz_d.base, EVLOOP_NONBLOCK);
	fuzz_control_stop();
	return 0;
}
