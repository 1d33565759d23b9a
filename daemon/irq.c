/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "device.h"
#include "fdstore.h"
#include "irq.h"
#include "region.h"
#include "vm.h"
#include "worker.h"

static struct irq_line *irq_line_find(struct vm *vm, unsigned int line)
{
	struct irq_line *l;

	TAILQ_FOREACH(l, &vm->irqs, link)
		if (l->line == line)
			return l;
	return NULL;
}

/* The VM's eventfd for line, created on first use; NULL if out of fds or
 * memory. */
static struct irq_line *irq_line_get(struct vm *vm, unsigned int line)
{
	struct irq_line *l = irq_line_find(vm, line);

	if (l)
		return l;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->line = line;
	l->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->fd < 0) {
		free(l);
		return NULL;
	}
	l->store_id = ++vm->d->next_store_id;
	fdstore_add(&vm->d->fdstore, l->fd, FDSTORE_PREFIX "irq-%llu",
		    (unsigned long long)l->store_id);
	TAILQ_INSERT_TAIL(&vm->irqs, l, link);
	ioregiond_state_changed(vm->d);
	return l;
}

struct irq_line *irq_line_adopt(struct vm *vm, unsigned int line, int fd,
				uint64_t store_id)
{
	struct irq_line *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->line = line;
	l->fd = fd;
	l->store_id = store_id;
	TAILQ_INSERT_TAIL(&vm->irqs, l, link);
	return l;
}

static bool irq_vm_has_line(struct ioregiond *d, const char *vm_name,
			    unsigned int line)
{
	const struct region *r;

	TAILQ_FOREACH(r, &d->regions, link)
		if (r->cfg.has_irq && r->cfg.irq == line &&
		    config_region_has_vm(&r->cfg, vm_name))
			return true;
	return false;
}

int irq_open(struct ioregiond *d, const char *vm_name, unsigned int line,
	     int *fd)
{
	struct vm *vm;
	struct irq_line *l;
	eventfd_t stale;

	if (!irq_vm_has_line(d, vm_name, line))
		return -ENOENT;
	vm = vm_get(d, vm_name);
	l = vm ? irq_line_get(vm, line) : NULL;
	if (!l)
		return -ENOMEM;
	/* Edges signalled before this VMM connected belong to no guest. */
	eventfd_read(l->fd, &stale);
	*fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 0);
	return *fd < 0 ? -errno : 0;
}

/* A rising edge to ch's VM on line l. ch is r's, guarded by r's lock;
 * l may be another region's line too, so its counters are atomic. */
static void irq_line_signal(struct region *r, struct channel *ch,
			    struct irq_line *l)
{
	ch->counters.irqs++;
	__atomic_fetch_add(&l->signals, 1, __ATOMIC_RELAXED);
	/* Only a counter at its maximum refuses: the edge is pending anyway. */
	if (eventfd_write(l->fd, 1) < 0 && errno != EAGAIN) {
		__atomic_fetch_add(&l->errors, 1, __ATOMIC_RELAXED);
		log_limited(&ch->ratelimit, LOG_WARNING,
			    "vm %s region %s: irq %u: %s", ch->vm->name,
			    r->cfg.name, l->line, strerror(errno));
	}
}

/* The edge on a worker, which creates nothing: the VM's records and
 * lines are the main thread's to create, and a line no VMM opened yet
 * has nobody to tell (irq_open drops earlier edges anyway). An open line
 * of a VM that never opened this region has no channel record to count
 * it in: the edge is lost, and said so. */
static void irq_signal_found(struct region *r, unsigned int requester)
{
	struct vm *vm = vm_find(r->d, r->cfg.vms[requester]);
	struct channel *ch = vm ? vm_channel_find(vm, r->cfg.name) : NULL;
	struct irq_line *l = vm ? irq_line_find(vm, r->cfg.irq) : NULL;

	if (ch && l) {
		irq_line_signal(r, ch, l);
		return;
	}
	if (!l)
		return;
	ioregiond_count(r->d, irqs_lost);
	log_limited(&r->irqs_lost, LOG_WARNING,
		    "region %s: interrupt to VM %s lost: it never opened the region",
		    r->cfg.name, vm->name);
}

static void irq_signal(struct region *r, unsigned int requester)
{
	struct vm *vm;
	struct channel *ch;
	struct irq_line *l;

	if (!worker_on_main()) {
		irq_signal_found(r, requester);
		return;
	}
	vm = vm_find(r->d, r->cfg.vms[requester]);
	ch = vm ? vm_channel_find(vm, r->cfg.name) : NULL;
	l = vm ? irq_line_find(vm, r->cfg.irq) : NULL;
	if (!ch || !l) {
		/* Creating records and lines the workers look up (a TPM's
		 * edge, served here, may be the first): not while they run. */
		workers_hold(r->d);
		vm = vm_get(r->d, r->cfg.vms[requester]);
		ch = vm ? vm_channel(vm, r->cfg.name) : NULL;
		l = vm ? irq_line_get(vm, r->cfg.irq) : NULL;
		workers_release(r->d);
	}
	if (!ch || !l) {
		log_warn("region %s: interrupt to VM %s lost: out of memory",
			 r->cfg.name, r->cfg.vms[requester]);
		return;
	}
	irq_line_signal(r, ch, l);
}

static void irq_region_set_one(struct region *r, unsigned int requester,
			       bool level)
{
	uint64_t bit = UINT64_C(1) << requester;
	bool was = r->irq_level & bit;

	if (level)
		r->irq_level |= bit;
	else
		r->irq_level &= ~bit;
	if (level && !was && r->cfg.has_irq)
		irq_signal(r, requester);
}

void irq_region_set(void *ctx, unsigned int requester, bool level)
{
	struct region *r = ctx;
	unsigned int i;

	if (requester != DEVICE_ALL_REQUESTERS) {
		if (requester < r->cfg.nvms)
			irq_region_set_one(r, requester, level);
		return;
	}
	for (i = 0; i < r->cfg.nvms; i++)
		irq_region_set_one(r, i, level);
}

