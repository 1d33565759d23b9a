/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet.h"
#include "libioregion.h"

/* testdev registers (devices/testdev.c). */
#define FLEET_ECHO 0x040
#define FLEET_DEV_READS 0x200
#define FLEET_DEV_WRITES 0x208

/* How long a VMM keeps retrying to attach: a killed VMM's regions are
 * free again only once the daemon has drained and closed them. */
#define FLEET_ATTACH_MS 60000

#define FLEET_SET(field, value) __atomic_store_n(&(field), (value), __ATOMIC_SEQ_CST)
#define FLEET_GET(field) __atomic_load_n(&(field), __ATOMIC_SEQ_CST)

static const char *const fleet_slot_names[FLEET_NSLOTS] = {
	"t reads", "t writes", "p reads", "p posted writes",
};

void fleet_vm_name(unsigned int i, char *buf, size_t len)
{
	snprintf(buf, len, "vm%03u", i);
}

uint64_t fleet_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t fleet_now_ms(void)
{
	return fleet_now_ns() / 1000000;
}

char *fleet_config(unsigned int nvms)
{
	size_t len = 64 + (size_t)nvms * 320;
	char *json = malloc(len), *at = json;
	unsigned int i;

	assert_non_null(json);
	at += sprintf(at, "{ \"regions\": [\n");
	for (i = 0; i < nvms; i++)
		at += sprintf(at,
			      "%s{ \"name\": \"t%03u\", \"device\": \"testdev\", \"bus\": \"mmio\","
			      " \"address\": \"0xd0000000\", \"size\": \"0x1000\", \"vms\": [\"vm%03u\"] },\n"
			      "{ \"name\": \"p%03u\", \"device\": \"testdev\", \"bus\": \"mmio\","
			      " \"address\": \"0xd0001000\", \"size\": \"0x1000\", \"vms\": [\"vm%03u\"],"
			      " \"posted_writes\": true }\n",
			      i ? "," : "", i, i, i, i);
	sprintf(at, "] }\n");
	return json;
}

/* The stop flag and the VMs' records, in one shared mapping. */
struct fleet_shared {
	int stop;
	unsigned int pause_us;
	struct fleet_vm vms[];
};

void fleet_init(struct fleet *f, const char *socket, unsigned int nvms)
{
	size_t len = sizeof(struct fleet_shared) +
		     (size_t)nvms * sizeof(struct fleet_vm);
	struct fleet_shared *shared = mmap(NULL, len, PROT_READ | PROT_WRITE,
					   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned int i;

	assert_true(shared != MAP_FAILED);
	memset(f, 0, sizeof(*f));
	snprintf(f->socket, sizeof(f->socket), "%s", socket);
	f->nvms = nvms;
	f->shared_len = len;
	f->stop = &shared->stop;
	f->pause_us = &shared->pause_us;
	f->vms = shared->vms;
	f->pids = calloc(nvms, sizeof(*f->pids));
	assert_non_null(f->pids);
	for (i = 0; i < nvms; i++)
		f->vms[i].pending = -1;
}

void fleet_free(struct fleet *f)
{
	munmap(f->stop, f->shared_len);
	free(f->pids);
}

int fleet_state(const struct fleet *f, unsigned int i)
{
	return FLEET_GET(f->vms[i].state);
}

uint64_t fleet_progress(const struct fleet *f, unsigned int i)
{
	return FLEET_GET(f->vms[i].progress);
}

/*
 * The VMM process of one VM. It never returns: _exit(0) when stopped,
 * _exit(1) with v->error set on any failure.
 */

static void fleet_vmm_fail(struct fleet_vm *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void fleet_vmm_fail(struct fleet_vm *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->error, sizeof(v->error), fmt, ap);
	va_end(ap);
	FLEET_SET(v->state, FLEET_FAILED);
	_exit(1);
}

/* Opens a region, retrying while the daemon still holds a killed
 * predecessor's (EBUSY until it has drained and closed it). */
static void fleet_vmm_open(struct fleet_vm *v, struct ioregion_client *c,
			   const char *name, struct ioregion_region *r,
			   uint64_t until)
{
	int rc;

	while ((rc = ioregion_client_open(c, name, r)) == -EBUSY &&
	       fleet_now_ms() <= until)
		usleep(2000);
	if (rc < 0)
		fleet_vmm_fail(v, "open %s: %s", name, ioregion_client_error(c));
}

/* Connects as VM i, retrying as a VMM would while the daemon is busy, and
 * opens its two regions. */
static struct ioregion_client *fleet_vmm_attach(struct fleet *f, unsigned int i,
						struct ioregion_region *t,
						struct ioregion_region *p)
{
	struct fleet_vm *v = &f->vms[i];
	uint64_t until = fleet_now_ms() + FLEET_ATTACH_MS;
	struct ioregion_client *c = NULL;
	char vm[16], name[16];
	int rc;

	fleet_vm_name(i, vm, sizeof(vm));
	while ((rc = ioregion_client_connect(f->socket, "fleet", vm, &c)) < 0) {
		if (fleet_now_ms() > until)
			fleet_vmm_fail(v, "%s: connect: %s", vm,
				       c ? ioregion_client_error(c) : strerror(-rc));
		ioregion_client_free(c);
		c = NULL;
		usleep(10000);
	}
	snprintf(name, sizeof(name), "t%03u", i);
	fleet_vmm_open(v, c, name, t, until);
	snprintf(name, sizeof(name), "p%03u", i);
	fleet_vmm_open(v, c, name, p, until);
	return c;
}

static uint64_t fleet_vmm_read_raw(struct fleet_vm *v,
				   const struct ioregion_region *r,
				   uint64_t offset)
{
	uint64_t value;
	int rc = ioregion_region_read(r, offset, 8, &value);

	if (rc < 0)
		fleet_vmm_fail(v, "%s: read 0x%llx: %s", r->name,
			       (unsigned long long)offset, strerror(-rc));
	return value;
}

/*
 * Settles the tally left by a killed predecessor against the devices'
 * own counters: every slot must match exactly, but for the access that was
 * under way, which either reached the daemon or not. The four reads that
 * ask are counted too.
 */
static void fleet_vmm_settle(struct fleet_vm *v, const struct ioregion_region *t,
			     const struct ioregion_region *p)
{
	uint64_t dev[FLEET_NSLOTS];
	int s, pending = FLEET_GET(v->pending);

	dev[FLEET_T_READS] = fleet_vmm_read_raw(v, t, FLEET_DEV_READS);
	dev[FLEET_T_WRITES] = fleet_vmm_read_raw(v, t, FLEET_DEV_WRITES);
	dev[FLEET_P_READS] = fleet_vmm_read_raw(v, p, FLEET_DEV_READS);
	dev[FLEET_P_POSTED] = fleet_vmm_read_raw(v, p, FLEET_DEV_WRITES);
	for (s = 0; s < FLEET_NSLOTS; s++) {
		if (s == pending && dev[s] == v->pending_n)
			v->landed++;
		else if (s == pending && dev[s] + 1 == v->pending_n)
			v->unsent++;
		else if (dev[s] != v->n[s])
			fleet_vmm_fail(v, "%s: %s: the device counted %llu, the VMM sent %llu%s",
				       t->name, fleet_slot_names[s],
				       (unsigned long long)dev[s],
				       (unsigned long long)v->n[s],
				       s == pending ? " (one under way)" : "");
		v->n[s] = dev[s];
	}
	FLEET_SET(v->pending, -1);
	v->n[FLEET_T_READS] += 2;
	v->n[FLEET_P_READS] += 2;
}

/* One access, counted before it starts: a kill at any point leaves
 * pending and n[slot] telling what may have gone out. */
static void fleet_vmm_access(struct fleet_vm *v, enum fleet_slot slot,
			     const struct ioregion_region *r, uint64_t offset,
			     unsigned int size, bool write, uint64_t *value)
{
	uint64_t n = v->n[slot] + 1;
	int rc;

	v->pending_n = n;
	FLEET_SET(v->pending, (int)slot);
	FLEET_SET(v->n[slot], n);
	rc = write ? ioregion_region_write(r, offset, size, *value)
		   : ioregion_region_read(r, offset, size, value);
	FLEET_SET(v->pending, -1);
	if (rc < 0)
		fleet_vmm_fail(v, "%s: %s of %u bytes at 0x%llx: %s", r->name,
			       write ? "write" : "read", size,
			       (unsigned long long)offset, strerror(-rc));
}

/* What a guest loop would do: 1 to 3 posted writes, a write that waits,
 * and two reads that must return what was written (the posted writes
 * landing before the read that follows them), every size. */
static void fleet_vmm_loop_once(struct fleet_vm *v,
				const struct ioregion_region *t,
				const struct ioregion_region *p)
{
	uint64_t seq = ++v->seq;
	unsigned int size = 1u << (seq & 3), k = 1 + seq % 3, j;
	uint64_t mask = size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
	uint64_t value = seq * 0x9e3779b97f4a7c15ull, posted = 0, got, w;

	for (j = 0; j < k; j++) {
		posted = value + j;
		fleet_vmm_access(v, FLEET_P_POSTED, p, FLEET_ECHO, 8, true, &posted);
	}
	/* Every other loop the guest computes a while: its posted writes
	 * may still wait in the socket when a kill comes. */
	if (seq & 4)
		usleep(100);
	w = value & mask;
	fleet_vmm_access(v, FLEET_T_WRITES, t, FLEET_ECHO, size, true, &w);
	fleet_vmm_access(v, FLEET_T_READS, t, FLEET_ECHO, size, false, &got);
	v->wrong += got != (value & mask);
	fleet_vmm_access(v, FLEET_P_READS, p, FLEET_ECHO, 8, false, &got);
	v->wrong += got != posted;
	FLEET_SET(v->progress, v->progress + 1);
}

static void fleet_vmm(struct fleet *f, unsigned int i)
{
	struct fleet_vm *v = &f->vms[i];
	struct ioregion_region t = { .fd = -1 }, p = { .fd = -1 };
	struct ioregion_client *c;

	signal(SIGPIPE, SIG_IGN);
	c = fleet_vmm_attach(f, i, &t, &p);
	fleet_vmm_settle(v, &t, &p);
	FLEET_SET(v->state, FLEET_RUNNING);
	while (!FLEET_GET(*f->stop)) {
		unsigned int pause = FLEET_GET(*f->pause_us);

		fleet_vmm_loop_once(v, &t, &p);
		if (pause)
			usleep(pause);
	}
	close(t.fd);
	close(p.fd);
	ioregion_client_free(c);
	FLEET_SET(v->state, FLEET_DONE);
	_exit(0);
}

void fleet_spawn(struct fleet *f, unsigned int i)
{
	pid_t pid;

	FLEET_SET(f->vms[i].state, FLEET_STARTING);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		fleet_vmm(f, i);
	f->pids[i] = pid;
}

void fleet_wait_running(struct fleet *f, unsigned int from, unsigned int to)
{
	uint64_t until = fleet_now_ms() + 120000;
	unsigned int i = from;

	while (i < to) {
		int state = fleet_state(f, i);

		if (state == FLEET_FAILED)
			fail_msg("vm%03u: %s", i, f->vms[i].error);
		if (state == FLEET_RUNNING) {
			i++;
			continue;
		}
		if (fleet_now_ms() > until)
			fail_msg("vm%03u did not start its access loop in 120 s", i);
		usleep(1000);
	}
}

void fleet_stop(struct fleet *f)
{
	unsigned int i;
	int status;

	FLEET_SET(*f->stop, 1);
	for (i = 0; i < f->nvms; i++) {
		if (f->pids[i] <= 0)
			continue;
		assert_int_equal(waitpid(f->pids[i], &status, 0), f->pids[i]);
		f->pids[i] = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
		    fleet_state(f, i) != FLEET_DONE)
			fail_msg("vm%03u did not stop cleanly (status 0x%x): %s",
				 i, status, f->vms[i].error);
	}
}
