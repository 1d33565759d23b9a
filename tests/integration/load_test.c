/* SPDX-License-Identifier: MIT */
/*
 * Load and faults: 256 VMs on one ioregiond, each a VMM process driving its
 * regions through libioregion, while every fourth VM's VMM is killed with
 * SIGKILL mid-access and a new one reconnects, over and over (at least
 * 1000 kills). Afterwards the daemon's per-VM counters must equal exactly
 * what the VMMs sent, posted writes included; its fd count must be back to
 * where it was and its memory within a bound; and every VM nobody killed
 * must have been served in every tenth of the run.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "fleet.h"
#include "harness.h"

#define LOAD_VMS 256
#define LOAD_KILLS 1000
#define LOAD_VICTIM_EVERY 4	/* vm000, vm004, ... are the ones killed */
#define LOAD_SNAP_MS 200	/* progress snapshots of every VM */
#define LOAD_SLICES 10
#define LOAD_MAX_MS 600000	/* a hung run fails rather than hangs */
/* Daemon RSS growth allowed over the kills, with the same 256 VMs attached
 * before and after: malloc's free lists and the log buffer may settle
 * differently, but a leak of 1 KiB per kill would exceed it. */
#define LOAD_RSS_BOUND_KIB 1024
#define LOAD_FDS_PER_VM 3	/* control connection, t and p regions */

struct load_run {
	struct harness_daemon hd;
	struct fleet f;
	uint64_t *snaps;	/* nsnaps rows of LOAD_VMS progress counts */
	uint64_t *snap_ms;
	unsigned int nsnaps, cap;
	unsigned int kills, mid_access;
	uint64_t t0;
};

static uint64_t load_now_ms(void)
{
	return fleet_now_ns() / 1000000;
}

static bool load_victim(unsigned int i)
{
	return i % LOAD_VICTIM_EVERY == 0;
}

static void load_snapshot(struct load_run *r)
{
	unsigned int i;

	if (r->nsnaps == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 256;
		r->snaps = realloc(r->snaps, (size_t)r->cap * LOAD_VMS * sizeof(*r->snaps));
		r->snap_ms = realloc(r->snap_ms, r->cap * sizeof(*r->snap_ms));
		assert_non_null(r->snaps);
		assert_non_null(r->snap_ms);
	}
	for (i = 0; i < LOAD_VMS; i++)
		r->snaps[(size_t)r->nsnaps * LOAD_VMS + i] = fleet_progress(&r->f, i);
	r->snap_ms[r->nsnaps++] = load_now_ms() - r->t0;
}

/* Kills VM i's VMM wherever it is and starts the next one, which is to be
 * killed in turn after 1 to 8 more access loops. */
static void load_kill(struct load_run *r, unsigned int i)
{
	struct fleet_vm *v = &r->f.vms[i];
	int status;

	assert_int_equal(kill(r->f.pids[i], SIGKILL), 0);
	assert_int_equal(waitpid(r->f.pids[i], &status, 0), r->f.pids[i]);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("vm%03u ended by itself (status 0x%x): %s", i, status,
			 v->error);
	r->mid_access += v->pending >= 0;
	r->kills++;
	v->kill_at = fleet_progress(&r->f, i) + 1 + (uint64_t)(rand() % 8);
	fleet_spawn(&r->f, i);
}

/* One pass over the victims; returns how many were killed. */
static unsigned int load_kill_pass(struct load_run *r)
{
	unsigned int i, n = 0;

	for (i = 0; i < LOAD_VMS; i += LOAD_VICTIM_EVERY) {
		int state = fleet_state(&r->f, i);

		if (state == FLEET_FAILED)
			fail_msg("vm%03u: %s", i, r->f.vms[i].error);
		if (state == FLEET_RUNNING &&
		    fleet_progress(&r->f, i) >= r->f.vms[i].kill_at) {
			load_kill(r, i);
			n++;
		}
	}
	return n;
}

static void load_kill_loop(struct load_run *r)
{
	uint64_t next_snap = 0, now;

	while (r->kills < LOAD_KILLS || r->nsnaps < 2 * LOAD_SLICES + 1) {
		if (r->kills < LOAD_KILLS && load_kill_pass(r) == 0)
			usleep(200);
		else if (r->kills >= LOAD_KILLS)
			usleep(LOAD_SNAP_MS * 1000);
		now = load_now_ms() - r->t0;
		if (now >= next_snap) {
			load_snapshot(r);
			next_snap = now + LOAD_SNAP_MS;
		}
		if (now > LOAD_MAX_MS)
			fail_msg("only %u kills in %u s", r->kills, LOAD_MAX_MS / 1000);
	}
	load_snapshot(r);
}

static uint64_t load_snap(const struct load_run *r, unsigned int s,
			  unsigned int i)
{
	return r->snaps[(size_t)s * LOAD_VMS + i];
}

/* Every VM nobody killed made progress in each tenth of the run. */
static void load_check_slices(const struct load_run *r)
{
	uint64_t least = UINT64_MAX, stall = 0, since;
	unsigned int s, i, a, b, k;

	for (s = 0; s < LOAD_SLICES; s++) {
		a = s * (r->nsnaps - 1) / LOAD_SLICES;
		b = (s + 1) * (r->nsnaps - 1) / LOAD_SLICES;
		for (i = 0; i < LOAD_VMS; i++) {
			uint64_t done = load_snap(r, b, i) - load_snap(r, a, i);

			if (load_victim(i))
				continue;
			if (done == 0)
				fail_msg("vm%03u was not served between %.1f s and %.1f s",
					 i, r->snap_ms[a] / 1000.0, r->snap_ms[b] / 1000.0);
			if (done < least)
				least = done;
		}
	}
	for (i = 0; i < LOAD_VMS; i++) {
		if (load_victim(i))
			continue;
		since = 0;
		for (k = 1; k < r->nsnaps; k++) {
			if (load_snap(r, k, i) == load_snap(r, k - 1, i))
				continue;
			if (r->snap_ms[k] - r->snap_ms[since] > stall)
				stall = r->snap_ms[k] - r->snap_ms[since];
			since = k;
		}
	}
	printf("served throughout: %u slices of %.1f s, each of the %u VMs never killed completed at least %llu access loops in every slice; the longest time between two snapshots that saw one of them progress was %llu ms (snapshots every %u ms)\n",
	       LOAD_SLICES, r->snap_ms[r->nsnaps - 1] / 1000.0 / LOAD_SLICES,
	       LOAD_VMS - LOAD_VMS / LOAD_VICTIM_EVERY, (unsigned long long)least,
	       (unsigned long long)stall, LOAD_SNAP_MS);
}

static uint64_t load_json_u64(json_t *obj, const char *key, const char *what)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		fail_msg("%s: no counter \"%s\"", what, key);
	return (uint64_t)json_integer_value(v);
}

static void load_expect(const char *what, const char *counter, uint64_t got,
			uint64_t want)
{
	if (got != want)
		fail_msg("%s: the daemon counts %llu %s, the VMMs sent %llu", what,
			 (unsigned long long)got, counter,
			 (unsigned long long)want);
}

/* One region's record against what the VMMs sent to it. */
static void load_check_region(json_t *region, const char *what, uint64_t reads,
			      uint64_t writes, uint64_t posted)
{
	if (json_is_true(json_object_get(region, "open")))
		fail_msg("%s: still open after its VMM stopped", what);
	load_expect(what, "reads", load_json_u64(region, "reads", what), reads);
	load_expect(what, "writes", load_json_u64(region, "writes", what), writes);
	load_expect(what, "posted writes", load_json_u64(region, "posted", what), posted);
	load_expect(what, "errors", load_json_u64(region, "errors", what), 0);
}

/* The daemon's stats of VM i equal exactly what its VMMs sent. */
static void load_check_vm(struct ioregion_client *admin, const struct fleet_vm *v,
			  unsigned int i)
{
	const uint64_t *n = v->n;
	char vm[16], name[16], what[48];
	json_t *root, *vms, *regions;

	fleet_vm_name(i, vm, sizeof(vm));
	if (v->wrong)
		fail_msg("%s: %llu reads returned a wrong value", vm,
			 (unsigned long long)v->wrong);
	root = harness_stats(admin, vm);
	vms = json_object_get(root, "vms");
	assert_int_equal(json_array_size(vms), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(vms, 0), "name")), vm);
	load_expect(vm, "reads", load_json_u64(json_array_get(vms, 0), "reads", vm),
		    n[FLEET_T_READS] + n[FLEET_P_READS]);
	load_expect(vm, "writes", load_json_u64(json_array_get(vms, 0), "writes", vm),
		    n[FLEET_T_WRITES]);
	load_expect(vm, "posted writes", load_json_u64(json_array_get(vms, 0), "posted", vm),
		    n[FLEET_P_POSTED]);
	regions = json_object_get(json_array_get(vms, 0), "regions");
	assert_int_equal(json_array_size(regions), 2);
	snprintf(name, sizeof(name), "t%03u", i);
	snprintf(what, sizeof(what), "%s region %s", vm, name);
	assert_string_equal(json_string_value(json_object_get(json_array_get(regions, 0), "name")), name);
	load_check_region(json_array_get(regions, 0), what, n[FLEET_T_READS],
			  n[FLEET_T_WRITES], 0);
	snprintf(name, sizeof(name), "p%03u", i);
	snprintf(what, sizeof(what), "%s region %s", vm, name);
	assert_string_equal(json_string_value(json_object_get(json_array_get(regions, 1), "name")), name);
	load_check_region(json_array_get(regions, 1), what, n[FLEET_P_READS], 0,
			  n[FLEET_P_POSTED]);
	json_decref(root);
}

static void load_check_counters(struct load_run *r)
{
	struct ioregion_client *admin = harness_connect(&r->hd, NULL);
	uint64_t total[FLEET_NSLOTS] = { 0 }, landed = 0, unsent = 0;
	unsigned int i, s;

	for (i = 0; i < LOAD_VMS; i++) {
		load_check_vm(admin, &r->f.vms[i], i);
		for (s = 0; s < FLEET_NSLOTS; s++)
			total[s] += r->f.vms[i].n[s];
		landed += r->f.vms[i].landed;
		unsent += r->f.vms[i].unsent;
	}
	ioregion_client_free(admin);
	printf("exact counters: all %u VMs, daemon stats = what their VMMs sent: %llu reads, %llu writes, %llu posted writes in all; no read saw a wrong value\n",
	       LOAD_VMS,
	       (unsigned long long)(total[FLEET_T_READS] + total[FLEET_P_READS]),
	       (unsigned long long)total[FLEET_T_WRITES],
	       (unsigned long long)total[FLEET_P_POSTED]);
	printf("kills: %u SIGKILLs, %u of them mid-access (an access call under way; it had reached the daemon %llu times and not yet %llu times, settled from the device counters by the next VMM), %u between accesses (mostly the guest's pause after its posted writes)\n",
	       r->kills, r->mid_access, (unsigned long long)landed,
	       (unsigned long long)unsent, r->kills - r->mid_access);
	/* The VMMs spend most of their time in an access, waiting for the
	 * daemon: most kills must land there. */
	assert_true(r->mid_access * 4 >= r->kills);
	assert_int_equal(landed + unsent, r->mid_access);
}

/* One last VMM per VM, which only settles its tally against the device
 * counters (exactly, nothing being under way) and stops. */
static void load_settle_all(struct fleet *f)
{
	unsigned int i;

	for (i = 0; i < LOAD_VMS; i++) {
		fleet_spawn(f, i);
		if (i % 32 == 31)
			fleet_stop(f);
	}
}

/* Waits up to 60 s for the daemon's fd count to reach want. */
static void load_wait_fds(const struct harness_daemon *hd, int want,
			  const char *when)
{
	int i, n = -1;

	for (i = 0; i < 6000; i++) {
		n = harness_fd_count(hd);
		if (n == want)
			return;
		usleep(10000);
	}
	fail_msg("%s: the daemon holds %d fds, expected %d", when, n, want);
}

static void test_256_vms_1000_kills(void **state)
{
	struct load_run r = { 0 };
	char *json = fleet_config(LOAD_VMS);
	long rss_idle, rss_warm, rss_end;
	uint64_t t_start;
	int fds;
	unsigned int i;

	srand(1);
	harness_start(&r.hd, json);
	t_start = load_now_ms();
	free(json);
	fds = harness_fd_count_settled(&r.hd);
	rss_idle = harness_rss_kib(&r.hd);
	fleet_init(&r.f, r.hd.socket, LOAD_VMS);
	/* In waves: the daemon's pending-hello limit is 64. */
	for (i = 0; i < LOAD_VMS; i++) {
		r.f.vms[i].kill_at = 1 + (uint64_t)(rand() % 8);
		fleet_spawn(&r.f, i);
		if (i % 32 == 31)
			fleet_wait_running(&r.f, i - 31, i + 1);
	}
	load_wait_fds(&r.hd, fds + LOAD_FDS_PER_VM * LOAD_VMS, "256 VMs attached");
	rss_warm = harness_rss_kib(&r.hd);
	r.t0 = load_now_ms();
	load_kill_loop(&r);
	printf("%u VMs attached in %.1f s; %u kills of %u VMs in %.1f s while the other %u ran\n",
	       LOAD_VMS, (r.t0 - t_start) / 1000.0, r.kills,
	       LOAD_VMS / LOAD_VICTIM_EVERY, (load_now_ms() - r.t0) / 1000.0,
	       LOAD_VMS - LOAD_VMS / LOAD_VICTIM_EVERY);
	fleet_wait_running(&r.f, 0, LOAD_VMS);
	load_wait_fds(&r.hd, fds + LOAD_FDS_PER_VM * LOAD_VMS,
		      "256 VMs attached after the kills");
	rss_end = harness_rss_kib(&r.hd);
	fleet_stop(&r.f);
	load_settle_all(&r.f);
	load_wait_fds(&r.hd, fds, "every VMM gone");
	printf("fds: %d before the VMs came, %d with the 256 attached before and after the kills, %d once they left\n",
	       fds, fds + LOAD_FDS_PER_VM * LOAD_VMS, harness_fd_count(&r.hd));
	load_check_slices(&r);
	load_check_counters(&r);
	printf("daemon RSS: %ld KiB idle, %ld KiB with 256 VMs before the kills, %ld KiB after them (%+ld KiB, bound %d KiB)\n",
	       rss_idle, rss_warm, rss_end, rss_end - rss_warm, LOAD_RSS_BOUND_KIB);
#ifdef LOAD_SANITIZED
	/* ASan's quarantine holds freed memory by design: RSS says nothing
	 * here; LeakSanitizer checks the daemon at exit instead. */
	printf("(sanitizer build: RSS bound not applied, LeakSanitizer runs at the daemon's exit)\n");
#else
	assert_true(rss_end - rss_warm <= LOAD_RSS_BOUND_KIB);
#endif
	harness_stop(&r.hd);
	fleet_free(&r.f);
	free(r.snaps);
	free(r.snap_ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_256_vms_1000_kills),
	};

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("load", tests, NULL, NULL);
}
