/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "region.h"
#include "stats.h"
#include "tpm_backend.h"
#include "vm.h"

/* Device counters of one region, gathered through device_ops.stats. */
struct stats_counters {
	Ior__Counter **items;
	size_t n, cap;
	bool oom;
};

static void stats_counter_add(void *ctx, const char *name, uint64_t value)
{
	struct stats_counters *c = ctx;
	Ior__Counter *item;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		Ior__Counter **items = realloc(c->items, cap * sizeof(*items));

		if (!items) {
			c->oom = true;
			return;
		}
		c->items = items;
		c->cap = cap;
	}
	item = malloc(sizeof(*item));
	if (!item) {
		c->oom = true;
		return;
	}
	ior__counter__init(item);
	item->name = (char *)name;
	item->value = value;
	c->items[c->n++] = item;
}

static void stats_counters_free(Ior__Counter **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/* Read while workers serve: the device's counters are gathered under
 * the region's lock, as the channel's are copied (channel_counters_get).
 * What says where ch is served is the main thread's. */
static Ior__RegionStats *stats_region(const struct channel *ch)
{
	Ior__RegionStats *rs = malloc(sizeof(*rs));
	struct stats_counters dev = { 0 };
	struct channel_counters counters;
	struct region *r = ch->region;

	if (!rs)
		return NULL;
	ior__region_stats__init(rs);
	rs->name = (char *)ch->region_name;
	channel_counters_get(ch, &counters);
	if (r) {
		pthread_mutex_lock(&r->lock);
		if (r->dev->ops->stats)
			r->dev->ops->stats(r->dev, stats_counter_add, &dev);
		if (r->tpm)
			tpm_backend_stats(r->tpm, stats_counter_add, &dev);
		console_stats(r->console, stats_counter_add, &dev);
		pthread_mutex_unlock(&r->lock);
	}
#define STATS_REGION(name, column) rs->name = counters.name;
	IOREGION_COUNTERS(STATS_REGION)
#undef STATS_REGION
	rs->has_irqs = true;	/* optional on the wire: absent before 1.1 */
	rs->open = channel_is_open(ch);
	rs->has_worker = rs->open;
	rs->worker = rs->open ? ch->worker->index : 0;
	rs->device = dev.items;
	rs->n_device = dev.n;
	if (dev.oom) {
		stats_counters_free(dev.items, dev.n);
		free(rs);
		return NULL;
	}
	return rs;
}

static void stats_vm_free(Ior__VmStats *vs)
{
	size_t i;

	for (i = 0; i < vs->n_regions; i++) {
		stats_counters_free(vs->regions[i]->device,
				    vs->regions[i]->n_device);
		free(vs->regions[i]);
	}
	free(vs->regions);
	free(vs);
}

/* One page of the region records, counted over the VMs in order: skip
 * records before it, then as many as room holds. */
struct stats_page {
	size_t skip;
	size_t room;		/* bytes left for VmStats and RegionStats */
	size_t total;		/* records of every VM asked for */
	bool full;
};

/* Tag and length prefix of an embedded message. */
#define STATS_FIELD_HEAD 4

/* vm with its records that fall in the page; *vs NULL when none does.
 * Returns -1 when out of memory. */
static int stats_vm(const struct vm *vm, struct stats_page *pg,
		    Ior__VmStats **out)
{
	Ior__VmStats *vs = malloc(sizeof(*vs));
	struct channel_counters sum;
	const struct channel *ch;
	size_t n = 0, cost;

	*out = NULL;
	if (!vs)
		return -1;
	ior__vm_stats__init(vs);
	vm_sum(vm, &sum);
	vs->name = (char *)vm->name;
#define STATS_VM(name, column) vs->name = sum.name;
	IOREGION_COUNTERS(STATS_VM)
#undef STATS_VM
	vs->has_irqs = true;	/* optional on the wire: absent before 1.1 */
	TAILQ_FOREACH(ch, &vm->channels, vm_link)
		n++;
	pg->total += n;
	vs->regions = calloc(n + 1, sizeof(*vs->regions));
	if (!vs->regions) {
		free(vs);
		return -1;
	}
	cost = STATS_FIELD_HEAD + ior__vm_stats__get_packed_size(vs);
	TAILQ_FOREACH(ch, &vm->channels, vm_link) {
		Ior__RegionStats *rs;

		if (pg->skip > 0) {
			pg->skip--;
			continue;
		}
		if (pg->full)
			break;
		rs = stats_region(ch);
		if (!rs) {
			stats_vm_free(vs);
			return -1;
		}
		cost += STATS_FIELD_HEAD + ior__region_stats__get_packed_size(rs);
		if (cost > pg->room) {
			stats_counters_free(rs->device, rs->n_device);
			free(rs);
			pg->full = true;
			break;
		}
		vs->regions[vs->n_regions++] = rs;
	}
	if (vs->n_regions == 0) {
		stats_vm_free(vs);
		return 0;
	}
	pg->room -= cost;
	*out = vs;
	return 0;
}

static int stats_daemon(struct ioregiond *d, Ior__StatsReply *reply)
{
	const struct ioregiond_counters *c = &d->counters;
	struct stats_counters out = { 0 };

	stats_counter_add(&out, "sessions", d->nsessions);
	stats_counter_add(&out, "log_dropped_bytes", log_dropped());
	/* Workers count some of them meanwhile (ioregiond_count). */
#define STATS_DAEMON(name) \
	stats_counter_add(&out, #name, __atomic_load_n(&c->name, __ATOMIC_RELAXED));
	IOREGIOND_COUNTERS(STATS_DAEMON)
#undef STATS_DAEMON
	reply->daemon = out.items;
	reply->n_daemon = out.n;
	return out.oom ? -1 : 0;
}

Ior__StatsReply *stats_build(struct ioregiond *d, const char *vm_name,
			     uint32_t offset)
{
	Ior__StatsReply *reply = malloc(sizeof(*reply));
	struct stats_page pg = { .skip = offset, .room = STATS_ROOM };
	struct vm *vm;
	size_t n = 0;

	if (!reply)
		return NULL;
	ior__stats_reply__init(reply);
	TAILQ_FOREACH(vm, &d->vms, link)
		n++;
	reply->vms = calloc(n + 1, sizeof(*reply->vms));
	if (!reply->vms || stats_daemon(d, reply) < 0)
		goto oom;
	TAILQ_FOREACH(vm, &d->vms, link) {
		if (vm_name && strcmp(vm->name, vm_name) != 0)
			continue;
		if (stats_vm(vm, &pg, &reply->vms[reply->n_vms]) < 0)
			goto oom;
		reply->n_vms += reply->vms[reply->n_vms] != NULL;
	}
	reply->has_total = true;
	reply->total = (uint32_t)pg.total;
	return reply;
oom:
	stats_free(reply);
	return NULL;
}

void stats_free(Ior__StatsReply *reply)
{
	size_t i;

	if (!reply)
		return;
	for (i = 0; i < reply->n_vms; i++)
		stats_vm_free(reply->vms[i]);
	free(reply->vms);
	stats_counters_free(reply->daemon, reply->n_daemon);
	free(reply);
}
