/* SPDX-License-Identifier: MIT */
/*
 * One VM's access latency while 255 others load the same ioregiond, against
 * the same VM alone, measured in this run: vm000 times 4-byte reads of its
 * testdev through libioregion, alone; while vm001..vm255 (the VMM processes
 * of tests/integration/fleet.c) each run a loop of posted writes, a write
 * and two reads every 100 ms; while they run it as fast as they can (the
 * daemon saturated: each VM then gets its share, so vm000 waits behind the
 * others' accesses); then alone again, for the noise. Prints p50/p99 and
 * their ratios to the first run; figures, never pass/fail.
 *
 * Usage: bench/load [READS [EXTRA_FILE]]   (IOREGIOND: the daemon binary)
 * With EXTRA_FILE, also appends the guest-paced rows and their target in
 * bench/table's format there (bench/table --extra).
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet.h"
#include "harness.h"

#define LOAD_VMS 256
#define LOAD_OFFSETS 0x100	/* testdev: each read returns its offset */
/* Each phase: its reads, or 15 s with at least 200 reads for a p99. */
#define LOAD_PHASE_NS 15000000000ull
#define LOAD_MIN_READS 200
/* The paced phase: each other VM pauses this long after each loop. */
#define LOAD_PACED_US 100000

struct load_figures {
	double p50, p99;	/* microseconds */
	double others_per_s;	/* access loops of the other VMs */
	unsigned int reads;
};

static int load_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t load_others(const struct fleet *f)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 1; i < f->nvms; i++)
		n += fleet_progress(f, i);
	return n;
}

/* Up to reads timed reads of r, for at most LOAD_PHASE_NS; the other VMs'
 * progress meanwhile, if any. */
static struct load_figures load_measure(const struct ioregion_region *r,
					const struct fleet *f, unsigned int reads)
{
	uint64_t *ns = calloc(reads, sizeof(*ns)), t0, others, start;
	struct load_figures fig;
	unsigned int k;

	if (!ns)
		fail_msg("out of memory");
	others = load_others(f);
	start = fleet_now_ns();
	for (k = 0; k < reads && (k < LOAD_MIN_READS ||
				  fleet_now_ns() - start < LOAD_PHASE_NS); k++) {
		uint64_t offset = LOAD_OFFSETS + (k % 64) * 4, value;

		t0 = fleet_now_ns();
		if (ioregion_region_read(r, offset, 4, &value) < 0 ||
		    value != offset)
			fail_msg("read 0x%llx failed or returned 0x%llx",
				 (unsigned long long)offset, (unsigned long long)value);
		ns[k] = fleet_now_ns() - t0;
	}
	fig.others_per_s = (double)(load_others(f) - others) * 1e9 /
			   (double)(fleet_now_ns() - start);
	fig.reads = k;
	qsort(ns, k, sizeof(*ns), load_cmp);
	fig.p50 = ns[k / 2] / 1000.0;
	fig.p99 = ns[k - 1 - k / 100] / 1000.0;
	free(ns);
	return fig;
}

static void load_print(const char *what, struct load_figures fig,
		       struct load_figures alone)
{
	printf("%-44s %6u reads  p50 %9.1f us  p99 %9.1f us   ratio to alone: p50 %8.2fx  p99 %8.2fx",
	       what, fig.reads, fig.p50, fig.p99, fig.p50 / alone.p50,
	       fig.p99 / alone.p99);
	if (fig.others_per_s > 0)
		printf("   (the others: %.0f access loops/s)", fig.others_per_s);
	printf("\n");
}

/* The guest-paced phase as bench/table's rows, and its target. */
static void load_extra(const char *path, struct load_figures paced,
		       struct load_figures alone)
{
	FILE *f = fopen(path, "a");
	double ratio = paced.p99 / alone.p99;

	if (!f)
		fail_msg("bench/load: cannot open %s", path);
	fprintf(f, "| load | vm000 alone: p50 %.1f us, p99 %.1f us | 1 | %.0f | | | | | | |\n",
		alone.p50, alone.p99, alone.p50 * 1000);
	fprintf(f, "| load | vm000 beside 255 VMs each a loop every 100 ms: p50 %.1f us (%.2fx alone), p99 %.1f us (%.2fx alone) | 1 | %.0f | | | | | | |\n",
		paced.p50, paced.p50 / alone.p50, paced.p99, ratio,
		paced.p50 * 1000);
	fprintf(f, "TARGET %-58s %6.2f  (target <= %.2f: %s)\n",
		"vm000's p99 beside 255 guest-paced VMs / alone", ratio, 3.0,
		ratio <= 3.0 ? "met" : "MISSED");
	fclose(f);
}

int main(int argc, char **argv)
{
	unsigned int reads = argc > 1 ? (unsigned int)atoi(argv[1]) : 20000, i;
	struct load_figures alone, paced, loaded, again;
	struct harness_daemon hd;
	struct ioregion_client *c;
	struct ioregion_region r;
	struct fleet f;
	char *json = fleet_config(LOAD_VMS);

	if (reads < 100)
		fail_msg("usage: bench/load [READS >= 100]");
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	harness_start(&hd, json);
	free(json);
	fleet_init(&f, hd.socket, LOAD_VMS);
	c = harness_connect(&hd, "vm000");
	if (ioregion_client_open(c, "t000", &r) < 0)
		fail_msg("open t000: %s", ioregion_client_error(c));
	load_measure(&r, &f, reads / 10);	/* warm-up */
	alone = load_measure(&r, &f, reads);
	*f.pause_us = LOAD_PACED_US;
	/* In waves: the daemon's pending-hello limit is 64. */
	for (i = 1; i < LOAD_VMS; i++) {
		fleet_spawn(&f, i);
		if (i % 32 == 0 || i == LOAD_VMS - 1)
			fleet_wait_running(&f, 1, i + 1);
	}
	paced = load_measure(&r, &f, reads);
	__atomic_store_n(f.pause_us, 0, __ATOMIC_SEQ_CST);
	loaded = load_measure(&r, &f, reads);
	fleet_stop(&f);
	again = load_measure(&r, &f, reads);
	printf("one VM's 4-byte MMIO read through ioregiond (libioregion, %u reads each, this run, %ld cpus)\n",
	       reads, sysconf(_SC_NPROCESSORS_ONLN));
	load_print("alone", alone, alone);
	load_print("255 others, each a loop every 100 ms", paced, alone);
	load_print("255 others, as fast as they can", loaded, alone);
	load_print("alone again", again, alone);
	if (argc > 2)
		load_extra(argv[2], paced, alone);
	close(r.fd);
	ioregion_client_free(c);
	harness_stop(&hd);
	fleet_free(&f);
	return 0;
}
