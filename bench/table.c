/* SPDX-License-Identifier: MIT */
/*
 * The table of issue 22, every figure measured in this run: a 32-byte
 * request/response at the wire level, one in flight (QD1) and 32 sent
 * together (QD32), against ioregiond in event mode and in poll mode, a bare
 * blocking socketpair echo between two threads and a polling echo (the
 * floor for a polling server); a guest MMIO read on /dev/kvm through
 * ioregiond (libioregion's fallback path) against a KVM_EXIT_MMIO the VMM
 * answers itself, event mode and poll mode; the CPU time per access on
 * both sides; and each daemon's CPU time over 10 idle seconds. Rounds are
 * interleaved and each figure is the median of its rounds, so the ratios
 * compare like with like on a shared, noisy machine. Figures, never
 * pass/fail: the targets are printed beside them.
 *
 * Usage: bench/table --event-socket S --event-pid P --poll-socket S
 *        --poll-pid P [--vmm PATH --guests DIR --boot-guest PATH
 *        --guest-iters N]
 *        [--spin-us N] [--iters N] [--rounds N] [--idle-s N]
 *        [--extra FILE]
 * FILE holds rows ("| ...") and targets ("TARGET ...") that bench/load
 * and bench/workers measured in the same run: printed as part of the
 * table and of its targets.
 * Both daemons serve the built-in config; the poll one runs with
 * --poll-us. The wire rows use vm0's testdev region "test0"; the guests
 * are DIR/read_unclaimed.bin and DIR/read_daemon.bin, and the boot guest
 * (whose cost is subtracted) does nothing but start and stop.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ioregion.h"
#include "libioregion.h"

#define TABLE_QD_MAX 32
#define TABLE_ROUNDS_MAX 15
#define TABLE_READ_OFFSET 0x100	/* testdev: a read returns its offset */

struct table_opts {
	const char *socket[2];	/* event, poll */
	pid_t pid[2];
	const char *vmm, *guests, *boot;
	unsigned long guest_iters;
	unsigned int spin_us;
	unsigned long iters;
	unsigned int rounds;
	unsigned int idle_s;
	const char *extra;	/* rows and targets other benchmarks measured */
};

/* One timed run: wall, client and server CPU, each per access. */
struct table_sample {
	double ns, client_ns, server_ns;
	double server_wait_ns;	/* runnable, waiting for a CPU */
};

enum table_server { ECHO_BLOCK, ECHO_POLL, DAEMON_EVENT, DAEMON_POLL };

struct table_wire {
	const char *name;
	enum table_server server;
	bool client_spins;
	unsigned int qd;
	struct table_sample s[TABLE_ROUNDS_MAX];
	struct table_sample med;
};

static uint64_t table_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t table_rusage_ns(const struct rusage *ru)
{
	return (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) *
		       1000000000ull +
	       (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1000;
}

static uint64_t table_thread_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return table_rusage_ns(&ru);
}

/* schedstat of a task: its time on a CPU and its time runnable but
 * waiting for one, in ns. The daemons are other processes (their
 * getrusage is not ours to call) and single-threaded. */
struct table_sched {
	uint64_t run, wait;
};

static struct table_sched table_schedstat(const char *path)
{
	unsigned long long run = 0, wait = 0;
	FILE *f = fopen(path, "re");

	if (!f || fscanf(f, "%llu %llu", &run, &wait) != 2) {
		fprintf(stderr, "bench/table: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	return (struct table_sched){ run, wait };
}

static struct table_sched table_pid_sched(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	return table_schedstat(path);
}

static uint64_t table_pid_cpu_ns(pid_t pid)
{
	return table_pid_sched(pid).run;
}

static struct table_sched table_thread_sched(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat",
		 (int)gettid());
	return table_schedstat(path);
}

/* --- the echo servers --------------------------------------------------- */

struct table_echo {
	int fd;
	bool poll;
	uint64_t cpu_ns, wait_ns;
};

/* Answers every whole frame it reads with one of its own, until the peer
 * closes. */
static void *table_echo_run(void *arg)
{
	struct table_echo *e = arg;
	uint8_t buf[(TABLE_QD_MAX + 1) * IOREGION_FRAME_SIZE];
	size_t have = 0, whole;
	uint64_t cpu0 = table_thread_cpu_ns();
	struct table_sched sched0 = table_thread_sched();
	ssize_t n;

	for (;;) {
		n = recv(e->fd, buf + have, sizeof(buf) - have,
			 e->poll ? MSG_DONTWAIT : 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		whole = have - have % IOREGION_FRAME_SIZE;
		if (send(e->fd, buf, whole, MSG_NOSIGNAL) != (ssize_t)whole)
			break;
		memmove(buf, buf + whole, have - whole);
		have -= whole;
	}
	e->cpu_ns = table_thread_cpu_ns() - cpu0;
	e->wait_ns = table_thread_sched().wait - sched0.wait;
	return NULL;
}

/* --- the client ----------------------------------------------------------- */

/* As libioregion spins (client/lib/frame.c, vm.c): a spin stops when two
 * reads are this far apart (the thread was off its CPU), and the next
 * TABLE_SPIN_PAUSE accesses do not spin. */
#define TABLE_SPIN_GAP_NS 20000ull
#define TABLE_SPIN_PAUSE 256

static unsigned int table_spin_pause;

/* Receives len bytes; spin_us > 0: non-blocking reads for up to spin_us
 * first, as libioregion does, then blocking ones. */
static void table_recv_all(int fd, void *buf, size_t len,
			   unsigned int spin_us)
{
	uint64_t now = table_now_ns(), last = now, end = 0;
	size_t done = 0;
	ssize_t n;

	if (spin_us && table_spin_pause)
		table_spin_pause--;
	else if (spin_us)
		end = now + spin_us * 1000ull;
	while (done < len) {
		n = recv(fd, (char *)buf + done, len - done,
			 now < end ? MSG_DONTWAIT : 0);
		if (n > 0) {
			done += (size_t)n;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			fprintf(stderr, "bench/table: the server went away\n");
			exit(1);
		}
		if (now >= end)
			continue;
		now = table_now_ns();
		if (now - last > TABLE_SPIN_GAP_NS) {
			table_spin_pause = TABLE_SPIN_PAUSE;
			end = 0;
		}
		last = now;
	}
}

/* iters accesses, qd at a time: returns wall and client CPU per access. */
static struct table_sample table_client(int fd, uint64_t user_data,
					unsigned int qd, unsigned int spin_us,
					unsigned long iters)
{
	struct ioregion_cmd cmd[TABLE_QD_MAX];
	struct ioregion_resp resp[TABLE_QD_MAX];
	struct table_sample s;
	uint64_t t0, c0;
	unsigned long i;
	unsigned int k;

	for (k = 0; k < qd; k++)
		cmd[k] = ioregion_cmd_make(IOREGION_CMD_READ, IOREGION_SIZE_4,
					   true, user_data,
					   TABLE_READ_OFFSET + 4 * k, 0);
	t0 = table_now_ns();
	c0 = table_thread_cpu_ns();
	for (i = 0; i < iters / qd; i++) {
		if (send(fd, cmd, qd * sizeof(cmd[0]), MSG_NOSIGNAL) !=
		    (ssize_t)(qd * sizeof(cmd[0]))) {
			fprintf(stderr, "bench/table: send: %s\n",
				strerror(errno));
			exit(1);
		}
		table_recv_all(fd, resp, qd * sizeof(resp[0]), spin_us);
	}
	s.client_ns = (double)(table_thread_cpu_ns() - c0) / (double)iters;
	s.ns = (double)(table_now_ns() - t0) / (double)iters;
	s.server_ns = s.server_wait_ns = 0;
	return s;
}

static struct table_sample table_echo(const struct table_opts *o,
				      const struct table_wire *w,
				      unsigned long iters)
{
	struct table_echo e = { .poll = w->server == ECHO_POLL };
	struct table_sample s;
	pthread_t t;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		exit(1);
	e.fd = sv[1];
	pthread_create(&t, NULL, table_echo_run, &e);
	s = table_client(sv[0], 0, w->qd, w->client_spins ? o->spin_us : 0,
			 iters);
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	s.server_ns = (double)e.cpu_ns / (double)iters;
	s.server_wait_ns = (double)e.wait_ns / (double)iters;
	return s;
}

static struct table_sample table_daemon(const struct table_opts *o,
					const struct table_wire *w,
					unsigned long iters)
{
	int which = w->server == DAEMON_POLL;
	struct ioregion_client *c = NULL;
	struct ioregion_region r;
	struct ioregion_resp resp;
	struct ioregion_cmd cmd;
	struct table_sample s;
	struct table_sched d0, d1;
	int rc;

	rc = ioregion_client_connect(o->socket[which], "bench", "vm0", &c);
	if (rc == 0)
		rc = ioregion_client_open(c, "test0", &r);
	if (rc < 0) {
		fprintf(stderr, "bench/table: %s: %s\n", o->socket[which],
			c ? ioregion_client_error(c) : strerror(-rc));
		exit(1);
	}
	/* One checked access first: the figures are of a working path. */
	cmd = ioregion_cmd_make(IOREGION_CMD_READ, IOREGION_SIZE_4, true,
				r.user_data, TABLE_READ_OFFSET, 0);
	if (send(r.fd, &cmd, sizeof(cmd), 0) != sizeof(cmd))
		exit(1);
	table_recv_all(r.fd, &resp, sizeof(resp), 0);
	if (resp.data != TABLE_READ_OFFSET) {
		fprintf(stderr, "bench/table: test0 read 0x%llx\n",
			(unsigned long long)resp.data);
		exit(1);
	}
	d0 = table_pid_sched(o->pid[which]);
	s = table_client(r.fd, r.user_data, w->qd,
			 w->client_spins ? o->spin_us : 0, iters);
	d1 = table_pid_sched(o->pid[which]);
	s.server_ns = (double)(d1.run - d0.run) / (double)iters;
	s.server_wait_ns = (double)(d1.wait - d0.wait) / (double)iters;
	ioregion_client_close_region(c, "test0");
	close(r.fd);
	ioregion_client_free(c);
	return s;
}

/* --- the guest rows ------------------------------------------------------- */

struct table_guest {
	const char *name;
	const char *bin;	/* in --guests */
	int daemon;		/* 0 event, 1 poll */
	bool spin;		/* the VMM spins (--spin-us) */
	struct table_sample best;
};

/* One VMM run of guest: wall ns, the VMM's CPU (wait4's rusage) and the
 * daemon's, in total. */
static struct table_sample table_vmm_run(const struct table_opts *o,
					 const char *guest, int daemon,
					 bool spin)
{
	char path[4096], spin_env[32];
	struct table_sample s;
	struct table_sched d0, d1;
	struct rusage ru;
	uint64_t t0;
	int status;
	pid_t pid;

	if (guest[0] == '/')
		snprintf(path, sizeof(path), "%s", guest);
	else
		snprintf(path, sizeof(path), "%s/%s", o->guests, guest);
	snprintf(spin_env, sizeof(spin_env), "%u", spin ? o->spin_us : 0);
	d0 = table_pid_sched(o->pid[daemon]);
	t0 = table_now_ns();
	pid = fork();
	if (pid == 0) {
		setenv("IOREGION_SPIN_US", spin_env, 1);
		execl(o->vmm, "ioregion-vmm", "-q", "-s", o->socket[daemon],
		      "-n", "vm0", path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench/table: %s %s failed\n", o->vmm, path);
		exit(1);
	}
	s.ns = (double)(table_now_ns() - t0);
	s.client_ns = (double)table_rusage_ns(&ru);
	d1 = table_pid_sched(o->pid[daemon]);
	s.server_ns = (double)(d1.run - d0.run);
	s.server_wait_ns = (double)(d1.wait - d0.wait);
	return s;
}

/* Best of 3 by wall time. */
static struct table_sample table_vmm_best(const struct table_opts *o,
					  const char *guest, int daemon,
					  bool spin)
{
	struct table_sample best = { 0 }, s;
	int i;

	for (i = 0; i < 3; i++) {
		s = table_vmm_run(o, guest, daemon, spin);
		if (i == 0 || s.ns < best.ns)
			best = s;
	}
	return best;
}

/* --- statistics and output ------------------------------------------------ */

static int table_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double table_median(const struct table_sample *s, unsigned int n,
			   size_t field)
{
	double v[TABLE_ROUNDS_MAX];
	unsigned int i;

	for (i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&s[i] + field);
	qsort(v, n, sizeof(v[0]), table_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void table_target(const char *what, double ratio, double target)
{
	printf("%-58s %6.2f  (target <= %.2f: %s)\n", what, ratio, target,
	       ratio <= target ? "met" : "MISSED");
}

#define TABLE_WIRE(n, srv, spin, q) \
	{ .name = n, .server = srv, .client_spins = spin, .qd = q }

static struct table_wire table_wires[] = {
	TABLE_WIRE("blocking echo (2 threads)", ECHO_BLOCK, false, 1),
	TABLE_WIRE("polling echo (2 threads)", ECHO_POLL, false, 1),
	TABLE_WIRE("ioregiond, event mode", DAEMON_EVENT, false, 1),
	TABLE_WIRE("ioregiond, poll mode", DAEMON_POLL, false, 1),
	TABLE_WIRE("polling echo, client spins", ECHO_POLL, true, 1),
	TABLE_WIRE("ioregiond, poll mode, client spins", DAEMON_POLL, true, 1),
	TABLE_WIRE("blocking echo (2 threads)", ECHO_BLOCK, false, 32),
	TABLE_WIRE("polling echo (2 threads)", ECHO_POLL, false, 32),
	TABLE_WIRE("ioregiond, event mode", DAEMON_EVENT, false, 32),
	TABLE_WIRE("ioregiond, poll mode", DAEMON_POLL, false, 32),
};

#define TABLE_NWIRES (sizeof(table_wires) / sizeof(table_wires[0]))

static const struct table_wire *table_find(enum table_server server,
					   bool spins, unsigned int qd)
{
	size_t i;

	for (i = 0; i < TABLE_NWIRES; i++)
		if (table_wires[i].server == server &&
		    table_wires[i].client_spins == spins &&
		    table_wires[i].qd == qd)
			return &table_wires[i];
	return NULL;
}

static void table_run_wires(const struct table_opts *o)
{
	unsigned int round;
	size_t i;

	for (round = 0; round < o->rounds; round++)
		for (i = 0; i < TABLE_NWIRES; i++) {
			struct table_wire *w = &table_wires[i];

			w->s[round] = w->server <= ECHO_POLL
					      ? table_echo(o, w, o->iters)
					      : table_daemon(o, w, o->iters);
		}
	for (i = 0; i < TABLE_NWIRES; i++) {
		struct table_wire *w = &table_wires[i];

		w->med.ns = table_median(w->s, o->rounds,
					 offsetof(struct table_sample, ns));
		w->med.client_ns = table_median(
			w->s, o->rounds, offsetof(struct table_sample, client_ns));
		w->med.server_ns = table_median(
			w->s, o->rounds, offsetof(struct table_sample, server_ns));
		w->med.server_wait_ns = table_median(
			w->s, o->rounds,
			offsetof(struct table_sample, server_wait_ns));
	}
}

/* One table: wire rows, guest rows, idle rows; each ratio against the
 * baseline its column names, measured in this run. */
static void table_print_head(void)
{
	printf("| level | measurement | QD | ns/access | / blocking echo "
	       "| / polling echo | / VMM-answered exit | client CPU ns/access "
	       "| server CPU ns/access | server waits for a CPU ns/access |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
}

static void table_print_wires(void)
{
	size_t i;

	for (i = 0; i < TABLE_NWIRES; i++) {
		const struct table_wire *w = &table_wires[i];
		const struct table_wire *b = table_find(ECHO_BLOCK, false, w->qd);
		const struct table_wire *p = table_find(ECHO_POLL,
							w->client_spins, w->qd);

		printf("| wire | %s | %u | %.0f | %.2f | %.2f | | %.0f | %.0f "
		       "| %.0f |\n", w->name, w->qd, w->med.ns,
		       w->med.ns / b->med.ns, w->med.ns / p->med.ns,
		       w->med.client_ns, w->med.server_ns,
		       w->med.server_wait_ns);
	}
}

#define TABLE_GUEST(n, b, d, sp) \
	{ .name = n, .bin = b, .daemon = d, .spin = sp }

static struct table_guest table_guests[] = {
	TABLE_GUEST("KVM_EXIT_MMIO read answered in the VMM",
		    "read_unclaimed.bin", 0, false),
	TABLE_GUEST("read via ioregiond, event mode", "read_daemon.bin", 0,
		    false),
	TABLE_GUEST("read via ioregiond, poll mode, VMM blocks",
		    "read_daemon.bin", 1, false),
	TABLE_GUEST("read via ioregiond, poll mode, VMM spins",
		    "read_daemon.bin", 1, true),
};

#define TABLE_NGUESTS (sizeof(table_guests) / sizeof(table_guests[0]))

static const char *table_guest_skip(const struct table_opts *o)
{
	if (!o->vmm || !o->guests || !o->boot)
		return "no --vmm/--guests/--boot-guest given";
	if (access("/dev/kvm", R_OK | W_OK) < 0)
		return errno == ENOENT ? "no /dev/kvm (see the nested rows)"
				       : "/dev/kvm not accessible";
	return NULL;
}

static void table_run_guests(const struct table_opts *o)
{
	struct table_sample boot[2];
	size_t i;
	int k;

	for (k = 0; k < 2; k++)
		boot[k] = table_vmm_best(o, o->boot, k, false);
	for (i = 0; i < TABLE_NGUESTS; i++) {
		struct table_guest *g = &table_guests[i];
		struct table_sample s = table_vmm_best(o, g->bin, g->daemon,
						       g->spin);
		const struct table_sample *b = &boot[g->daemon];
		double n = (double)o->guest_iters;

		g->best.ns = (s.ns - b->ns) / n;
		g->best.client_ns = (s.client_ns - b->client_ns) / n;
		g->best.server_ns = (s.server_ns - b->server_ns) / n;
		g->best.server_wait_ns =
			(s.server_wait_ns - b->server_wait_ns) / n;
	}
}

static void table_print_guests(const char *skip)
{
	size_t i;

	for (i = 0; i < TABLE_NGUESTS; i++) {
		const struct table_guest *g = &table_guests[i];

		if (skip) {
			printf("| guest | %s | 1 | skipped: %s | | | | | | |\n",
			       g->name, skip);
			continue;
		}
		printf("| guest | %s | 1 | %.0f | | | %.2f | %.0f | %.0f "
		       "| %.0f |\n", g->name, g->best.ns,
		       g->best.ns / table_guests[0].best.ns,
		       g->best.client_ns, g->best.server_ns,
		       g->best.server_wait_ns);
	}
}

/* utime + stime of a process from /proc/PID/stat, in clock ticks. */
static unsigned long long table_pid_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the command's closing paren. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &utime, &stime) != 2) {
		fprintf(stderr, "bench/table: cannot read %s\n", path);
		exit(1);
	}
	return utime + stime;
}

/* Each daemon's CPU time while nothing talks to it: schedstat's, in ms,
 * and /proc/PID/stat's, in ticks. */
struct table_idle {
	double ms;
	unsigned long long ticks;
};

static void table_measure_idle(const struct table_opts *o,
			       struct table_idle idle[2])
{
	unsigned long long t0[2];
	uint64_t c0[2];
	int k;

	usleep(200000);		/* the last poll windows run out */
	for (k = 0; k < 2; k++) {
		c0[k] = table_pid_cpu_ns(o->pid[k]);
		t0[k] = table_pid_ticks(o->pid[k]);
	}
	sleep(o->idle_s);
	for (k = 0; k < 2; k++) {
		idle[k].ms = (double)(table_pid_cpu_ns(o->pid[k]) - c0[k]) / 1e6;
		idle[k].ticks = table_pid_ticks(o->pid[k]) - t0[k];
	}
}

static void table_print_idle(const struct table_idle idle[2],
			     unsigned int idle_s)
{
	static const char *const mode[2] = { "event", "poll" };
	int k;

	for (k = 0; k < 2; k++)
		printf("| idle | ioregiond, %s mode: CPU over %u s, no guest "
		       "| | | | | | | %.3f ms (stat: %llu ticks) | |\n",
		       mode[k], idle_s, idle[k].ms, idle[k].ticks);
}

static void table_print_targets(const char *skip,
				const struct table_idle idle[2],
				unsigned int idle_s)
{
	const struct table_wire *poll = table_find(DAEMON_POLL, false, 1);
	const struct table_wire *event = table_find(DAEMON_EVENT, false, 1);
	const struct table_wire *block = table_find(ECHO_BLOCK, false, 1);
	const struct table_wire *pecho = table_find(ECHO_POLL, false, 1);

	printf("\nTargets (issue 22), from the figures above:\n");
	table_target("poll mode QD1 / blocking echo", poll->med.ns / block->med.ns,
		     0.70);
	table_target("poll mode QD1 / polling echo", poll->med.ns / pecho->med.ns,
		     1.10);
	table_target("event mode QD1 / blocking echo",
		     event->med.ns / block->med.ns, 1.10);
	if (skip)
		printf("%-58s skipped: %s\n",
		       "guest read via ioregiond (poll) / VMM-answered exit", skip);
	else
		table_target("guest read via ioregiond (poll, VMM spins) / VMM exit",
			     table_guests[3].best.ns / table_guests[0].best.ns,
			     2.50);
	table_target("idle CPU of the poll-mode daemon, ms per 10 s",
		     idle[1].ms * 10.0 / idle_s, 10.0);
}

static unsigned long table_number(const char *opt, const char *arg,
				  unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || v > max) {
		fprintf(stderr, "bench/table: %s: '%s' is not 0..%lu\n", opt,
			arg, max);
		exit(2);
	}
	return v;
}

static void table_parse(int argc, char **argv, struct table_opts *o)
{
	enum { ES = 256, EP, PS, PP, VMM, GUESTS, BOOT, GITERS, SPIN, ITERS,
	       ROUNDS, IDLE, EXTRA };
	static const struct option longopts[] = {
		{ "event-socket", required_argument, NULL, ES },
		{ "event-pid", required_argument, NULL, EP },
		{ "poll-socket", required_argument, NULL, PS },
		{ "poll-pid", required_argument, NULL, PP },
		{ "vmm", required_argument, NULL, VMM },
		{ "guests", required_argument, NULL, GUESTS },
		{ "boot-guest", required_argument, NULL, BOOT },
		{ "guest-iters", required_argument, NULL, GITERS },
		{ "spin-us", required_argument, NULL, SPIN },
		{ "iters", required_argument, NULL, ITERS },
		{ "rounds", required_argument, NULL, ROUNDS },
		{ "idle-s", required_argument, NULL, IDLE },
		{ "extra", required_argument, NULL, EXTRA },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case ES: o->socket[0] = optarg; break;
		case EP: o->pid[0] = (pid_t)table_number("--event-pid", optarg, 1u << 30); break;
		case PS: o->socket[1] = optarg; break;
		case PP: o->pid[1] = (pid_t)table_number("--poll-pid", optarg, 1u << 30); break;
		case VMM: o->vmm = optarg; break;
		case GUESTS: o->guests = optarg; break;
		case BOOT: o->boot = optarg; break;
		case GITERS: o->guest_iters = table_number("--guest-iters", optarg, 1ul << 30); break;
		case SPIN: o->spin_us = (unsigned int)table_number("--spin-us", optarg, IOREGION_SPIN_MAX_US); break;
		case ITERS: o->iters = table_number("--iters", optarg, 1ul << 30); break;
		case ROUNDS: o->rounds = (unsigned int)table_number("--rounds", optarg, TABLE_ROUNDS_MAX); break;
		case IDLE: o->idle_s = (unsigned int)table_number("--idle-s", optarg, 3600); break;
		case EXTRA: o->extra = optarg; break;
		default: exit(2);
		}
	}
	if (!o->socket[0] || !o->socket[1] || !o->pid[0] || !o->pid[1] ||
	    o->rounds == 0 || o->iters < TABLE_QD_MAX || o->idle_s == 0 ||
	    (o->vmm && o->guest_iters == 0)) {
		fprintf(stderr, "bench/table: see the usage in bench/table.c\n");
		exit(2);
	}
}

/* The lines of the --extra file that start with prefix ("|": rows of
 * the table; "TARGET ": its targets), without the prefix of a target. */
static void table_print_extra(const char *path, const char *prefix)
{
	char line[1024];
	size_t skip = prefix[0] == '|' ? 0 : strlen(prefix);
	FILE *f;

	if (!path)
		return;
	f = fopen(path, "re");
	if (!f) {
		printf("(%s: %s)\n", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, prefix, strlen(prefix)))
			fputs(line + skip, stdout);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct table_opts o = {
		.iters = 20000, .rounds = 5, .idle_s = 10, .spin_us = 50,
	};
	const char *skip;
	struct table_idle idle[2];

	table_parse(argc, argv, &o);
	skip = table_guest_skip(&o);
	table_run_wires(&o);
	if (!skip)
		table_run_guests(&o);
	table_measure_idle(&o, idle);
	table_print_head();
	table_print_wires();
	table_print_guests(skip);
	table_print_idle(idle, o.idle_s);
	table_print_extra(o.extra, "|");
	printf("\nwire: %lu accesses per run, median of %u interleaved rounds; "
	       "client blocks in recv unless it spins;\n", o.iters, o.rounds);
	if (!skip)
		printf("guest: %lu reads per run, best of 3, a guest boot "
		       "subtracted; the VMM spins %u us where it says so;\n",
		       o.guest_iters, o.spin_us);
	printf("CPU: getrusage of the client and echo threads and of the VMM, "
	       "/proc/PID/schedstat of the daemons (serving on their main "
	       "thread, --workers 1;\nthe workers rows: every thread);\n"
	       "waits for a CPU: schedstat's run-queue time of the echo thread "
	       "or the daemon (guest rows: the daemon).\n");
	table_print_targets(skip, idle, o.idle_s);
	table_print_extra(o.extra, "TARGET ");
	return 0;
}
