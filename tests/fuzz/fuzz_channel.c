/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the data path. Bytes a guest (through KVM or a VMM)
 * writes to a region fd, cut into writes of any length, go through a real
 * channel on a real socketpair and the event loop to a device model.
 * Input: one byte choosing the device, then chunks of [length, bytes].
 * The tpm-tis region has no backend here (the host has no submit), so
 * its commands take the model's own TPM_RC_FAILURE answer path.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "pollset.h"
#include "region.h"
#include "regionset.h"
#include "vm.h"
#include "fuzz.h"

static const char fuzz_channel_config[] =
	"{ \"regions\": ["
	" { \"name\": \"ram\", \"device\": \"ram\", \"bus\": \"mmio\","
	"   \"address\": 0, \"size\": 4096, \"vms\": [\"vm0\"] },"
	" { \"name\": \"bell\", \"device\": \"doorbell\", \"bus\": \"mmio\","
	"   \"address\": 4096, \"size\": 4096, \"vms\": [\"vm0\"],"
	"   \"posted_writes\": true },"
	" { \"name\": \"test\", \"device\": \"testdev\", \"bus\": \"mmio\","
	"   \"address\": 8192, \"size\": 4096, \"vms\": [\"vm0\"] },"
	" { \"name\": \"mbox\", \"device\": \"mailbox\", \"bus\": \"mmio\","
	"   \"address\": 12288, \"size\": 4096, \"vms\": [\"vm0\", \"vm1\"] },"
	" { \"name\": \"uart\", \"device\": \"uart16550\", \"bus\": \"pio\","
	"   \"address\": 1016, \"size\": 8, \"vms\": [\"vm0\"],"
	"   \"options\": { \"output\": \"none\" } },"
	" { \"name\": \"tpm\", \"device\": \"tpm-tis\", \"bus\": \"mmio\","
	"   \"address\": 65536, \"size\": 20480,"
	"   \"vms\": [\"vm0\", \"vm1\"] } ] }";

#define FUZZ_NREGIONS 6

static struct ioregiond fuzz_d;
static struct region *fuzz_regions[FUZZ_NREGIONS];

static void fuzz_channel_init(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg = config_parse(fuzz_channel_config, &errs);
	unsigned int i;

	if (!cfg)
		abort();
	fuzz_d.base = event_base_new();
	if (worker_main_init(&fuzz_d) < 0)
		abort();
	TAILQ_INIT(&fuzz_d.regions);
	TAILQ_INIT(&fuzz_d.vms);
	TAILQ_INIT(&fuzz_d.sessions);
	for (i = 0; i < cfg->nregions; i++) {
		fuzz_regions[i] = region_new(&fuzz_d, &cfg->regions[i], false,
					     &errs);
		if (!fuzz_regions[i])
			abort();
		regionset_add(fuzz_regions[i]);
	}
	config_free(cfg);
	fuzz_quiet_log();
}

/* Runs the loop until nothing is left to do, reading what comes back. */
static void fuzz_channel_turn(int peer)
{
	uint8_t sink[4096];

	event_base_loop(fuzz_d.base, EVLOOP_NONBLOCK);
	while (recv(peer, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		event_base_loop(fuzz_d.base, EVLOOP_NONBLOCK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct region *r;
	struct channel *ch;
	struct vm *vm;
	size_t off = 1;
	int peer, tries = 0;

	if (!fuzz_d.base)
		fuzz_channel_init();
	if (size < 1)
		return 0;
	r = fuzz_regions[data[0] % FUZZ_NREGIONS];
	vm = vm_get(&fuzz_d, "vm0");
	ch = vm ? vm_channel(vm, r->cfg.name) : NULL;
	if (!ch || channel_open(ch, r, &peer) < 0)
		abort();
	fcntl(peer, F_SETFL, O_NONBLOCK);
	while (off < size) {
		size_t len = data[off++];

		if (len > size - off)
			len = size - off;
		while (len > 0) {
			ssize_t n = send(peer, data + off, len, MSG_NOSIGNAL);

			if (n < 0 && errno == EAGAIN && tries++ < 8) {
				fuzz_channel_turn(peer);
				continue;
			}
			if (n <= 0)
				break;
			off += (size_t)n;
			len -= (size_t)n;
			fuzz_channel_turn(peer);
		}
		if (len > 0)
			break;
	}
	fuzz_channel_turn(peer);
	close(peer);
	event_base_loop(fuzz_d.base, EVLOOP_NONBLOCK);
	if (channel_is_open(ch))
		channel_close(ch, "fuzz input done");
	return 0;
}
