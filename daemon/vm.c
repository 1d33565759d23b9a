/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdstore.h"
#include "vm.h"

struct vm *vm_find(struct ioregiond *d, const char *name)
{
	struct vm *vm;

	TAILQ_FOREACH(vm, &d->vms, link)
		if (strcmp(vm->name, name) == 0)
			return vm;
	return NULL;
}

struct vm *vm_get(struct ioregiond *d, const char *name)
{
	struct vm *vm = vm_find(d, name);

	if (vm)
		return vm;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	vm->d = d;
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	TAILQ_INIT(&vm->channels);
	TAILQ_INIT(&vm->irqs);
	TAILQ_INSERT_TAIL(&d->vms, vm, link);
	return vm;
}

struct channel *vm_channel_find(struct vm *vm, const char *region_name)
{
	struct channel *ch;

	TAILQ_FOREACH(ch, &vm->channels, vm_link)
		if (strcmp(ch->region_name, region_name) == 0)
			return ch;
	return NULL;
}

struct channel *vm_channel(struct vm *vm, const char *region_name)
{
	struct channel *ch = vm_channel_find(vm, region_name);

	if (ch)
		return ch;
	ch = channel_new(vm, region_name);
	if (ch)
		TAILQ_INSERT_TAIL(&vm->channels, ch, vm_link);
	return ch;
}

void vm_sum(const struct vm *vm, struct channel_counters *sum)
{
	const struct channel *ch;

	struct channel_counters c;

	memset(sum, 0, sizeof(*sum));
	TAILQ_FOREACH(ch, &vm->channels, vm_link) {
		channel_counters_get(ch, &c);
#define VM_SUM(name, column) sum->name += c.name;
		IOREGION_COUNTERS(VM_SUM)
#undef VM_SUM
	}
}

/* The VM owns the eventfds of its lines: they go with it. */
static void vm_free_irqs(struct vm *vm)
{
	struct irq_line *l;

	while ((l = TAILQ_FIRST(&vm->irqs))) {
		TAILQ_REMOVE(&vm->irqs, l, link);
		fdstore_remove(&vm->d->fdstore, FDSTORE_PREFIX "irq-%llu",
			       (unsigned long long)l->store_id);
		close(l->fd);
		free(l);
	}
}

void vm_free_all(struct ioregiond *d)
{
	struct vm *vm;
	struct channel *ch;

	while ((vm = TAILQ_FIRST(&d->vms))) {
		while ((ch = TAILQ_FIRST(&vm->channels))) {
			TAILQ_REMOVE(&vm->channels, ch, vm_link);
			channel_free(ch);
		}
		vm_free_irqs(vm);
		TAILQ_REMOVE(&d->vms, vm, link);
		free(vm);
	}
}
