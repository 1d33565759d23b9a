/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a VM state file (LoadVmState's memfd, the one input a
 * client hands the daemon whole) loaded into vm0 of a small config with a
 * ram, a doorbell, a shared mailbox, a UART and a shared TPM: the file
 * and record headers, every model's restore in its scratch instance, the
 * TPM's swtpm state, and what is applied (no swtpm runs: the event loop
 * that would start one never does). The regions are built once; a load that passes changes them,
 * which later inputs then start from, as a daemon would.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pollset.h"
#include "regionset.h"
#include "session.h"
#include "vmstate.h"
#include "fuzz.h"

static const char fuzz_vmstate_config[] =
	"{ \"regions\": ["
	" { \"name\": \"ram0\", \"device\": \"ram\", \"bus\": \"mmio\","
	"   \"address\": 0, \"size\": 4096, \"vms\": [\"vm0\"] },"
	" { \"name\": \"bell0\", \"device\": \"doorbell\", \"bus\": \"mmio\","
	"   \"address\": 4096, \"size\": 4096, \"vms\": [\"vm0\"],"
	"   \"posted_writes\": true },"
	" { \"name\": \"test0\", \"device\": \"testdev\", \"bus\": \"mmio\","
	"   \"address\": 8192, \"size\": 4096, \"vms\": [\"vm0\"] },"
	" { \"name\": \"mbox\", \"device\": \"mailbox\", \"bus\": \"mmio\","
	"   \"address\": 12288, \"size\": 4096, \"vms\": [\"vm0\", \"vm1\"] },"
	" { \"name\": \"con0\", \"device\": \"uart16550\", \"bus\": \"pio\","
	"   \"address\": 1016, \"size\": 8, \"vms\": [\"vm0\"],"
	"   \"options\": { \"output\": \"none\" } },"
	" { \"name\": \"tpm0\", \"device\": \"tpm-tis\", \"bus\": \"mmio\","
	"   \"address\": 16384, \"size\": 20480, \"vms\": [\"vm0\", \"vm1\"],"
	"   \"options\": { \"state_dir\": \"/nonexistent\" } } ] }";

static struct ioregiond fuzz_d;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512];
	unsigned int kept;
	int fd;

	if (!fuzz_d.base) {
		struct config_errors errs = { 0 };
		struct config *cfg;

		fuzz_d.base = event_base_new();
		if (worker_main_init(&fuzz_d) < 0)
			abort();
		TAILQ_INIT(&fuzz_d.regions);
		TAILQ_INIT(&fuzz_d.vms);
		TAILQ_INIT(&fuzz_d.sessions);
		fuzz_d.notify = session_notify;
		fuzz_quiet_log();
		cfg = config_parse(fuzz_vmstate_config, &errs);
		if (!cfg || regionset_apply(&fuzz_d, cfg, &errs) < 0)
			abort();
	}
	/* Every input says it was saved by this daemon, so VM-part records
	 * (the mailbox's) get past the instance check to their parser. */
	if (size >= 40)
		memcpy(fuzz_d.instance_id, data + 24, 16);
	fd = memfd_create("fuzz-vmstate", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	vmstate_load(&fuzz_d, "vm0", fd, size > 0 && (data[size - 1] & 1),
		     &kept, why, sizeof(why));
	close(fd);
	return 0;
}
