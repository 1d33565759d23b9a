/* SPDX-License-Identifier: MIT */
/*
 * A fleet of VMM processes for load tests and benchmarks: each attaches to
 * one ioregiond as its own VM through libioregion and drives, over its
 * region fds, the accesses a guest's MMIO would make KVM send (reads,
 * writes, posted writes, every size), checking every value it reads. What
 * each VM handed the daemon is tallied in memory shared with the parent,
 * so that the parent can SIGKILL a VMM at any point and still know it.
 *
 * VM i ("vm007") has two testdev regions: "t007", whose writes wait for
 * the daemon, and "p007", whose writes are posted.
 */
#ifndef FLEET_H
#define FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The frames a VM handed the daemon, by region and kind. */
enum fleet_slot {
	FLEET_T_READS,
	FLEET_T_WRITES,
	FLEET_P_READS,
	FLEET_P_POSTED,
	FLEET_NSLOTS,
};

enum fleet_state {
	FLEET_STARTING,	/* connecting, opening, settling its tally */
	FLEET_RUNNING,	/* in its access loop: may be killed */
	FLEET_DONE,	/* stopped when asked */
	FLEET_FAILED,	/* see error */
};

/* One VM's record in shared memory, written by its current VMM process. */
struct fleet_vm {
	uint64_t n[FLEET_NSLOTS];
	/* The access under way: its slot (-1 if none) and n[slot] once it
	 * is counted. A VMM killed there may or may not have sent it; the
	 * next VMM of the VM settles which from the device's counters. */
	int pending;
	uint64_t pending_n;
	uint64_t progress;	/* access loops completed, over all lives */
	uint64_t kill_at;	/* the parent's: kill once progress reaches it */
	uint64_t seq;		/* value generator, over all lives */
	uint64_t wrong;		/* reads that returned a wrong value */
	uint64_t landed;	/* killed mid-access: the frame reached the daemon */
	uint64_t unsent;	/* killed mid-access before the frame left */
	int state;		/* enum fleet_state */
	char error[160];
};

struct fleet {
	char socket[128];
	unsigned int nvms;
	struct fleet_vm *vms;	/* shared with the VMM processes */
	pid_t *pids;
	int *stop;		/* shared: set to ask every VMM to stop */
	unsigned int *pause_us;	/* shared: a guest's pause after each loop */
	size_t shared_len;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t fleet_now_ns(void);
/* The config JSON of nvms VMs (malloc'ed). */
char *fleet_config(unsigned int nvms);
void fleet_vm_name(unsigned int i, char *buf, size_t len);
/* Shared tallies for nvms VMs attaching to the daemon at socket. */
void fleet_init(struct fleet *f, const char *socket, unsigned int nvms);
void fleet_free(struct fleet *f);
/* Forks VM i's VMM; it (re)attaches and loops until stopped or killed. */
void fleet_spawn(struct fleet *f, unsigned int i);
/* Reads a VM's shared field as its VMM last wrote it. */
int fleet_state(const struct fleet *f, unsigned int i);
uint64_t fleet_progress(const struct fleet *f, unsigned int i);
/* Waits until VMs [from, to) all run their access loop; fails the test
 * if one fails or 120 s pass. */
void fleet_wait_running(struct fleet *f, unsigned int from, unsigned int to);
/* Asks every VMM to stop and reaps them; fails the test unless each one
 * stopped cleanly. */
void fleet_stop(struct fleet *f);

#endif
