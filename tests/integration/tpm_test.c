/* SPDX-License-Identifier: MIT */
/*
 * The tpm-tis model in the real daemon, backed by real swtpm processes
 * the daemon starts: two VMs of one region have two TPMs (an extend in
 * one leaves the other's PCR alone), a guest gets random bytes, a swtpm
 * killed under a VM is started again with the VM's PCRs (counted in
 * swtpm_restarts), and a VMM that opens the region anew (a VM powering
 * on) or sends ResetVm (a reboot) finds its TPM reset. Skipped where swtpm is not installed.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define TPM_TIMEOUT_MS 60000

struct tpm_fixture {
	struct harness_daemon hd;
	struct ioregion_client *c[2];
	int fd[2];
	struct tis_io io[2];
};

static bool tpm_have_swtpm(void)
{
	return system("command -v swtpm >/dev/null 2>&1") == 0;
}

static void tpm_attach(struct tpm_fixture *f, unsigned int i)
{
	f->c[i] = harness_connect(&f->hd, i ? "vm1" : "vm0");
	f->fd[i] = harness_open(f->c[i], "tpm0");
	f->io[i] = harness_tis_io(&f->fd[i]);
}

static int tpm_setup(void **state)
{
	struct tpm_fixture *f = calloc(1, sizeof(*f));
	char config[1024];

	assert_non_null(f);
	harness_prepare(&f->hd, NULL);
	snprintf(config, sizeof(config),
		 "{ \"regions\": [ { \"name\": \"tpm0\", \"device\": \"tpm-tis\","
		 " \"bus\": \"mmio\", \"address\": \"0xfed40000\", \"size\": 20480,"
		 " \"vms\": [\"vm0\", \"vm1\"],"
		 " \"options\": { \"state_dir\": \"%s/tpm\" } } ] }", f->hd.dir);
	harness_write_config(&f->hd, config);
	harness_launch(&f->hd);
	tpm_attach(f, 0);
	tpm_attach(f, 1);
	*state = f;
	return 0;
}

static int tpm_teardown(void **state)
{
	struct tpm_fixture *f = *state;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		close(f->fd[i]);
		ioregion_client_free(f->c[i]);
	}
	harness_stop(&f->hd);
	free(f);
	return 0;
}

/* Runs cmd on VM i's TPM; the response's code must be success. */
static long tpm_run(struct tpm_fixture *f, unsigned int i, const uint8_t *cmd,
		    size_t len, uint8_t *resp)
{
	long n = tis_transmit(&f->io[i], cmd, len, resp, 4096, TPM_TIMEOUT_MS);

	if (n < 10)
		fail_msg("vm%u: no TPM response (%ld)", i, n);
	if (tpm_rc(resp) != 0)
		fail_msg("vm%u: TPM response code 0x%x", i, tpm_rc(resp));
	return n;
}

static void tpm_pcr16(struct tpm_fixture *f, unsigned int i, uint8_t *pcr)
{
	uint8_t resp[4096];
	long n = tpm_run(f, i, tpm_cmd_pcr16_read, sizeof(tpm_cmd_pcr16_read),
			 resp);

	memcpy(pcr, resp + n - 32, 32);
}

static void tpm_extend(struct tpm_fixture *f, unsigned int i, uint8_t b)
{
	uint8_t cmd[TPM_PCR16_EXTEND_LEN], digest[32], resp[4096];

	memset(digest, b, sizeof(digest));
	tpm_run(f, i, cmd, tpm_cmd_pcr16_extend(cmd, digest), resp);
}

static uint64_t tpm_stat(struct tpm_fixture *f, const char *name)
{
	json_t *st = harness_stats(f->c[0], "vm0");
	json_t *vm = json_array_get(json_object_get(st, "vms"), 0);
	json_t *region = json_array_get(json_object_get(vm, "regions"), 0);
	json_t *v = json_object_get(json_object_get(region, "device"), name);
	uint64_t n;

	if (!v) {
		char *s = json_dumps(st, 0);

		fail_msg("no %s in %s", name, s);
	}
	n = (uint64_t)json_integer_value(v);
	json_decref(st);
	return n;
}

static void test_two_vms_two_tpms(void **state)
{
	struct tpm_fixture *f = *state;
	uint8_t resp[4096], p0[32], p1[32], zero[32] = { 0 };
	long n;


	tpm_run(f, 0, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp);
	tpm_run(f, 1, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp);
	n = tpm_run(f, 0, tpm_cmd_get_random, sizeof(tpm_cmd_get_random), resp);
	assert_int_equal(n, 12 + 32);

	tpm_extend(f, 0, 0x5a);
	tpm_pcr16(f, 0, p0);
	tpm_pcr16(f, 1, p1);
	assert_memory_not_equal(p0, zero, 32);
	assert_memory_equal(p1, zero, 32);
	tpm_extend(f, 1, 0x5a);
	tpm_pcr16(f, 1, p1);
	assert_memory_equal(p0, p1, 32);
	assert_true(tpm_stat(f, "swtpm_running") == 2);
}

/* The daemon's swtpm serving vm0: the one whose command line names
 * vm0's state directory. */
static pid_t tpm_swtpm_of(struct tpm_fixture *f, const char *vm)
{
	char path[300], cmdline[4096], want[256];
	struct dirent *de;
	pid_t pid = 0;
	DIR *d = opendir("/proc");
	FILE *fp;
	size_t n, i;

	snprintf(want, sizeof(want), "dir=%s/tpm/tpm0/%s,", f->hd.dir, vm);
	assert_non_null(d);
	while (!pid && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		n = fread(cmdline, 1, sizeof(cmdline) - 1, fp);
		fclose(fp);
		for (i = 0; i < n; i++)
			cmdline[i] = cmdline[i] ? cmdline[i] : ' ';
		cmdline[n] = '\0';
		if (strstr(cmdline, want))
			pid = atoi(de->d_name);
	}
	closedir(d);
	return pid;
}

static void test_killed_swtpm_comes_back_with_the_pcrs(void **state)
{
	struct tpm_fixture *f = *state;
	uint8_t resp[4096], before[32], after[32];
	pid_t pid;

	tpm_run(f, 0, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp);
	tpm_extend(f, 0, 0x33);
	tpm_pcr16(f, 0, before);
	pid = tpm_swtpm_of(f, "vm0");
	assert_true(pid > 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	/* The next command waits for a new swtpm, then runs on the state
	 * the last answer left. */
	tpm_pcr16(f, 0, after);
	assert_memory_equal(before, after, 32);
	assert_true(tpm_swtpm_of(f, "vm0") != pid);
	assert_true(tpm_stat(f, "swtpm_restarts") >= 1);
	assert_true(harness_alive(&f->hd));
}

static void test_power_on_resets_only_that_tpm(void **state)
{
	struct tpm_fixture *f = *state;
	uint8_t resp[4096], p1[32], again[32], zero[32] = { 0 };

	tpm_run(f, 0, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp);
	tpm_run(f, 1, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp);
	tpm_extend(f, 0, 0x11);
	tpm_extend(f, 1, 0x22);
	tpm_pcr16(f, 1, p1);
	/* vm0's VMM goes and a new one opens the region: TPM_Init, so the
	 * guest must send TPM2_Startup again and finds PCR 16 cleared. */
	close(f->fd[0]);
	ioregion_client_free(f->c[0]);
	tpm_attach(f, 0);
	tpm_run(f, 0, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp);
	tpm_pcr16(f, 0, again);
	assert_memory_equal(again, zero, 32);
	tpm_pcr16(f, 1, again);
	assert_memory_equal(again, p1, 32);
	/* A reboot without a new VMM (QEMU's system_reset): ResetVm. */
	tpm_extend(f, 0, 0x11);
	assert_int_equal(ioregion_client_reset_vm(f->c[0], NULL), 0);
	tpm_run(f, 0, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp);
	tpm_pcr16(f, 0, again);
	assert_memory_equal(again, zero, 32);
	tpm_pcr16(f, 1, again);
	assert_memory_equal(again, p1, 32);
}

/* Plugs region json over an admin connection; it must be refused with
 * a message containing why, and the daemon keeps serving. */
static void tpm_plug_refused(struct tpm_fixture *f, const char *json,
			     const char *why)
{
	struct ioregion_client *admin = harness_connect(&f->hd, NULL);

	assert_int_equal(ioregion_client_plug(admin, json), -EINVAL);
	if (!strstr(ioregion_client_error(admin), why))
		fail_msg("expected \"%s\" in \"%s\"", why,
			 ioregion_client_error(admin));
	ioregion_client_free(admin);
}

static void test_bad_backend_options_refused(void **state)
{
	struct tpm_fixture *f = *state;
	uint8_t resp[4096];

	tpm_plug_refused(f, "{\"name\":\"t1\",\"device\":\"tpm-tis\",\"bus\":\"mmio\","
			 "\"address\":\"0xe0000000\",\"size\":20480,\"vms\":[\"vm2\"],"
			 "\"options\":{\"state_dir\":5}}", "options.state_dir: not a string");
	tpm_plug_refused(f, "{\"name\":\"t1\",\"device\":\"tpm-tis\",\"bus\":\"mmio\","
			 "\"address\":\"0xe0000000\",\"size\":20480,\"vms\":[\"vm2\"],"
			 "\"options\":{\"ctrl_sockets\":{\"vm9\":\"/x\"}}}",
			 "ctrl_sockets.vm9: not a VM of the region");
	tpm_plug_refused(f, "{\"name\":\"t1\",\"device\":\"tpm-tis\",\"bus\":\"mmio\","
			 "\"address\":\"0xe0000000\",\"size\":20480,\"vms\":[\".vm2\"]}",
			 "may not start with '.'");
	assert_true(harness_alive(&f->hd));
	tpm_run(f, 0, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp);
}

int main(void)
{
	if (!tpm_have_swtpm()) {
		printf("SKIP: tpm_test: swtpm is not installed (scripts/deps build)\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_vms_two_tpms,
						tpm_setup, tpm_teardown),
		cmocka_unit_test_setup_teardown(test_killed_swtpm_comes_back_with_the_pcrs,
						tpm_setup, tpm_teardown),
		cmocka_unit_test_setup_teardown(test_power_on_resets_only_that_tpm,
						tpm_setup, tpm_teardown),
		cmocka_unit_test_setup_teardown(test_bad_backend_options_refused,
						tpm_setup, tpm_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
