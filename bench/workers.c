/* SPDX-License-Identifier: MIT */
/*
 * Aggregate accesses per second of 64 busy VMs against one ioregiond on
 * 1 worker (the main thread) and one on 2 worker threads, measured in
 * this run: each VM is a thread of this process with its own control
 * connection and testdev channel, sending 32 reads at a time and checking
 * every answer. Rounds alternate between the two daemons; each figure is
 * the median. Beside the rate: the VMs' CPU time per access, the daemon's
 * (every thread) and its time runnable but waiting for a CPU, which say
 * where the time goes when 2 workers are not faster. Figures, never pass/fail.
 *
 * Usage: bench/workers [EXTRA_FILE]   (IOREGIOND: the daemon binary)
 * With EXTRA_FILE, also appends its rows and target in bench/table's
 * format there (bench/table --extra).
 */
#include "autoconfig.h"

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet.h"
#include "harness.h"

#define WORKERS_VMS 64
#define WORKERS_QD 32
#define WORKERS_ROUNDS 5
#define WORKERS_ROUND_NS 2000000000ull
#define WORKERS_OFFSET 0x100	/* testdev: a read returns its offset */

/* One busy VM. */
struct workers_vm {
	pthread_t thread;
	int fd;
	const bool *stop;
	uint64_t accesses;
	bool wrong;
};

/* The daemon's CPU time and run-queue time so far, every thread, ns. */
struct workers_sched {
	uint64_t run, wait;
};

/* One round of one daemon: accesses/s, and per access the VMs' CPU and
 * the daemon's CPU and wait. */
struct workers_round {
	double rate, client_ns, cpu_ns, wait_ns;
};

static uint64_t workers_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of this process (the 64 VMs) so far, ns. */
static uint64_t workers_self_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		       1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static struct workers_sched workers_sched(pid_t pid)
{
	struct workers_sched s = { 0, 0 };
	unsigned long long run, wait;
	char path[320];
	struct dirent *e;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		fail_msg("bench/workers: cannot read %s", path);
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat",
			 (int)pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
			s.run += run;
			s.wait += wait;
		}
		fclose(f);
	}
	closedir(dir);
	return s;
}

/* QD32 reads until told to stop, each answer checked. */
static void *workers_vm_run(void *arg)
{
	struct workers_vm *vm = arg;
	struct ioregion_cmd cmd[WORKERS_QD];
	struct ioregion_resp resp[WORKERS_QD];
	unsigned int i;
	size_t got;
	ssize_t n;

	for (i = 0; i < WORKERS_QD; i++)
		cmd[i] = ioregion_cmd_make(IOREGION_CMD_READ, IOREGION_SIZE_4,
					   true, 0, WORKERS_OFFSET, 0);
	while (!__atomic_load_n(vm->stop, __ATOMIC_RELAXED)) {
		if (write(vm->fd, cmd, sizeof(cmd)) != sizeof(cmd))
			break;
		for (got = 0; got < sizeof(resp); got += (size_t)n) {
			n = read(vm->fd, (uint8_t *)resp + got,
				 sizeof(resp) - got);
			if (n <= 0)
				return NULL;
		}
		for (i = 0; i < WORKERS_QD; i++)
			vm->wrong |= resp[i].data != WORKERS_OFFSET;
		__atomic_fetch_add(&vm->accesses, WORKERS_QD, __ATOMIC_RELAXED);
	}
	return NULL;
}

struct workers_daemon {
	unsigned int nworkers;
	struct harness_daemon hd;
	struct ioregion_client *c[WORKERS_VMS];
	struct workers_vm vm[WORKERS_VMS];
	struct workers_round rounds[WORKERS_ROUNDS];
	struct workers_round med;
};

static void workers_start(struct workers_daemon *wd, const char *json)
{
	char n[16];
	unsigned int i;

	snprintf(n, sizeof(n), "%u", wd->nworkers);
	setenv("IOREGIOND_TEST_WORKERS", n, 1);
	harness_start(&wd->hd, json);
	for (i = 0; i < WORKERS_VMS; i++) {
		char vm[16], region[16];

		snprintf(vm, sizeof(vm), "vm%03u", i);
		snprintf(region, sizeof(region), "t%03u", i);
		wd->c[i] = harness_connect(&wd->hd, vm);
		wd->vm[i].fd = harness_open(wd->c[i], region);
	}
}

static struct workers_round workers_round(struct workers_daemon *wd)
{
	bool stop = false;
	struct workers_sched s0, s1;
	uint64_t t0, t1, c0, c1, total = 0;
	unsigned int i;

	for (i = 0; i < WORKERS_VMS; i++) {
		wd->vm[i].stop = &stop;
		wd->vm[i].accesses = 0;
		if (pthread_create(&wd->vm[i].thread, NULL, workers_vm_run,
				   &wd->vm[i]))
			fail_msg("bench/workers: pthread_create");
	}
	usleep(200000);		/* every VM busy */
	for (i = 0; i < WORKERS_VMS; i++)
		total -= __atomic_load_n(&wd->vm[i].accesses, __ATOMIC_RELAXED);
	s0 = workers_sched(wd->hd.pid);
	c0 = workers_self_cpu_ns();
	t0 = workers_now_ns();
	usleep(WORKERS_ROUND_NS / 1000);
	for (i = 0; i < WORKERS_VMS; i++)
		total += __atomic_load_n(&wd->vm[i].accesses, __ATOMIC_RELAXED);
	s1 = workers_sched(wd->hd.pid);
	c1 = workers_self_cpu_ns();
	t1 = workers_now_ns();
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < WORKERS_VMS; i++) {
		pthread_join(wd->vm[i].thread, NULL);
		if (wd->vm[i].wrong)
			fail_msg("bench/workers: a wrong answer");
	}
	return (struct workers_round){
		.rate = (double)total * 1e9 / (double)(t1 - t0),
		.client_ns = (double)(c1 - c0) / (double)total,
		.cpu_ns = (double)(s1.run - s0.run) / (double)total,
		.wait_ns = (double)(s1.wait - s0.wait) / (double)total,
	};
}

static int workers_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double workers_median(const struct workers_round *r, size_t field)
{
	double v[WORKERS_ROUNDS];
	unsigned int i;

	for (i = 0; i < WORKERS_ROUNDS; i++)
		v[i] = *(const double *)((const char *)&r[i] + field);
	qsort(v, WORKERS_ROUNDS, sizeof(v[0]), workers_cmp);
	return v[WORKERS_ROUNDS / 2];
}

static void workers_print(FILE *out, const struct workers_daemon *wd)
{
	fprintf(out, "| workers | %u busy VMs, %u worker%s: %.0f accesses/s "
		"| %u | %.0f | | | | %.0f | %.0f | %.0f |\n", WORKERS_VMS,
		wd->nworkers, wd->nworkers == 1 ? " (the main thread)" : "s",
		wd->med.rate, WORKERS_QD, 1e9 / wd->med.rate,
		wd->med.client_ns, wd->med.cpu_ns, wd->med.wait_ns);
}

static void workers_target(FILE *out, double ratio)
{
	fprintf(out, "%-58s %6.2f  (target >= %.2f: %s)\n",
		"64 busy VMs: accesses/s with 2 workers / with 1", ratio, 1.6,
		ratio >= 1.6 ? "met" : "MISSED");
}

int main(int argc, char **argv)
{
	static struct workers_daemon wd[2] = { { .nworkers = 1 },
					       { .nworkers = 2 } };
	char *json = fleet_config(WORKERS_VMS);
	unsigned int r, k, i;
	FILE *extra = NULL;
	double ratio;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !(extra = fopen(argv[1], "a")))
		fail_msg("bench/workers: cannot open %s", argv[1]);
	for (k = 0; k < 2; k++)
		workers_start(&wd[k], json);
	free(json);
	/* Interleaved, so both see the same machine. */
	for (r = 0; r < WORKERS_ROUNDS; r++)
		for (k = 0; k < 2; k++)
			wd[k].rounds[r] = workers_round(&wd[k]);
	for (k = 0; k < 2; k++) {
		wd[k].med.rate = workers_median(wd[k].rounds,
			offsetof(struct workers_round, rate));
		wd[k].med.client_ns = workers_median(wd[k].rounds,
			offsetof(struct workers_round, client_ns));
		wd[k].med.cpu_ns = workers_median(wd[k].rounds,
			offsetof(struct workers_round, cpu_ns));
		wd[k].med.wait_ns = workers_median(wd[k].rounds,
			offsetof(struct workers_round, wait_ns));
	}
	ratio = wd[1].med.rate / wd[0].med.rate;
	printf("%u busy VMs, QD%u reads, %u interleaved rounds of %.0f s, this run, %ld cpus, load average before the end: ",
	       WORKERS_VMS, WORKERS_QD, WORKERS_ROUNDS,
	       WORKERS_ROUND_NS / 1e9, sysconf(_SC_NPROCESSORS_ONLN));
	fflush(stdout);
	if (system("cut -d' ' -f1-3 /proc/loadavg") != 0)
		printf("?\n");
	printf("| level | measurement | QD | ns/access | | | | the VMs' CPU ns/access | daemon CPU ns/access (all threads) | daemon waits for a CPU ns/access |\n");
	for (k = 0; k < 2; k++)
		workers_print(stdout, &wd[k]);
	workers_target(stdout, ratio);
	if (extra) {
		for (k = 0; k < 2; k++)
			workers_print(extra, &wd[k]);
		fprintf(extra, "TARGET ");
		workers_target(extra, ratio);
		fclose(extra);
	}
	for (k = 0; k < 2; k++) {
		for (i = 0; i < WORKERS_VMS; i++) {
			close(wd[k].vm[i].fd);
			ioregion_client_free(wd[k].c[i]);
		}
		harness_stop(&wd[k].hd);
	}
	return 0;
}
