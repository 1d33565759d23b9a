/* SPDX-License-Identifier: MIT */
/*
 * Interrupt lines. A region's config may name a line ("irq"); its device
 * drives that line towards each VM of the region with device_set_irq. Each
 * VM has one eventfd per line, handed to its VMM by OpenIrq (for KVM_IRQFD
 * with GSI = line, or the VMM's own interrupt controller), and the daemon
 * signals it on every rising edge of the device's output: ISA lines are
 * edge-triggered, and KVM_IRQFD without a resample fd injects an edge.
 */
#ifndef IRQ_H
#define IRQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "ioregiond.h"

struct region;
struct vm;

struct irq_line {
	TAILQ_ENTRY(irq_line) link;
	unsigned int line;
	int fd;				/* eventfd, non-blocking */
	uint64_t store_id;		/* its name in the fd store */
	uint64_t signals;
	uint64_t errors;
};

TAILQ_HEAD(irq_line_list, irq_line);

/* A new descriptor of vm_name's eventfd for line, for its VMM; -ENOENT when
 * no region of that VM names the line. Drains edges nobody took. */
int irq_open(struct ioregiond *d, const char *vm_name, unsigned int line,
	     int *fd);
/* device_host.set_irq of a region: ctx is the region. */
void irq_region_set(void *ctx, unsigned int requester, bool level);
/* Takes back the eventfd a previous daemon stored for vm's line; NULL (fd
 * still the caller's) if out of memory. */
struct irq_line *irq_line_adopt(struct vm *vm, unsigned int line, int fd,
				uint64_t store_id);

#endif
