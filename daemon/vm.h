/* SPDX-License-Identifier: MIT */
/*
 * A VM known to the daemon: created the first time one of its regions is
 * opened, it keeps a channel record per region it ever opened, so its
 * counters outlive VMM restarts.
 */
#ifndef VM_H
#define VM_H

#include <sys/queue.h>

#include "channel.h"
#include "ioregiond.h"
#include "irq.h"

struct vm {
	TAILQ_ENTRY(vm) link;
	struct ioregiond *d;
	char name[IOREGION_NAME_MAX + 1];
	TAILQ_HEAD(, channel) channels;
	struct irq_line_list irqs;	/* eventfds of its interrupt lines */
	struct worker *worker;		/* serves its channels (worker.h) */
	unsigned int nplaced;		/* its open channels there */
};

struct vm *vm_find(struct ioregiond *d, const char *name);
/* Finds or creates; NULL only when out of memory. */
struct vm *vm_get(struct ioregiond *d, const char *name);
/* The record for region_name, created if needed; NULL if out of memory. */
struct channel *vm_channel(struct vm *vm, const char *region_name);
struct channel *vm_channel_find(struct vm *vm, const char *region_name);
void vm_sum(const struct vm *vm, struct channel_counters *sum);
void vm_free_all(struct ioregiond *d);

#endif
