/* SPDX-License-Identifier: MIT */
/*
 * mailbox: one instance shared by the VMs of its region, so guests can send
 * each other messages. Each VM (by its index in the region's "vms" list) has
 * an inbox FIFO of "depth" messages (1..1024, default 16). Registers are 4
 * bytes; TX and RX also take 8-byte accesses.
 *   0x00 ID        R  0x584f424d ("MBOX")
 *   0x04 SELF      R  the caller's index
 *   0x08 PEERS     R  how many VMs share the mailbox
 *   0x0c DEST      RW index the caller's next TX goes to (default: the next
 *                     VM in the list)
 *   0x10 TX        W  queue a message for DEST, tagged with the caller's index;
 *                     a full inbox drops it and counts an overflow there
 *   0x18 RX        R  pop the caller's oldest message (0 when empty)
 *   0x20 RX_FROM   R  sender index of the oldest message (0xffffffff if none)
 *   0x24 DEPTH     R  messages waiting for the caller
 *   0x28 STATUS    R  bit 0 RX ready, bit 1 a message to the caller was
 *                     dropped (sticky), bit 2 DEST's inbox is full;
 *                  W  writing bit 1 clears it
 *   0x2c OVERFLOWS R  messages to the caller dropped so far
 *   0x30 CAPACITY  R  inbox depth
 * The interrupt line towards each VM is high while its inbox holds a
 * message, so a guest can wait for mail instead of polling STATUS.
 */
#include "autoconfig.h"

#include <stdlib.h>

#include "device.h"

#define MBOX_ID 0x00
#define MBOX_SELF 0x04
#define MBOX_PEERS 0x08
#define MBOX_DEST 0x0c
#define MBOX_TX 0x10
#define MBOX_RX 0x18
#define MBOX_RX_FROM 0x20
#define MBOX_DEPTH 0x24
#define MBOX_STATUS 0x28
#define MBOX_OVERFLOWS 0x2c
#define MBOX_CAPACITY 0x30
#define MBOX_MIN_SIZE 0x40

#define MBOX_MAGIC 0x584f424du
#define MBOX_STATUS_RX_READY 0x1u
#define MBOX_STATUS_OVERFLOW 0x2u
#define MBOX_STATUS_DEST_FULL 0x4u
#define MBOX_MAX_DEPTH 1024

struct mbox_msg {
	uint64_t data;
	unsigned int from;
};

struct mbox_inbox {
	struct mbox_msg *ring;
	unsigned int head, count;
	unsigned int dest;
	bool overflowed;
	uint64_t overflows;
};

struct dev_mailbox {
	struct device dev;
	unsigned int depth, peers;
	uint64_t sent, received, bad_access;
	struct mbox_inbox inbox[];
};

static struct dev_mailbox *dev_mailbox(struct device *dev)
{
	return container_of(dev, struct dev_mailbox, dev);
}

static void dev_mailbox_free(struct dev_mailbox *mb)
{
	unsigned int i;

	for (i = 0; i < mb->peers; i++)
		free(mb->inbox[i].ring);
	free(mb);
}

/* One VM's share: its inbox (and what waited in it), its DEST and its
 * interrupt line; what it sent to others stays theirs. */
static void dev_mailbox_reset_vm(struct device *dev, unsigned int req)
{
	struct dev_mailbox *mb = dev_mailbox(dev);
	struct mbox_inbox *in;

	if (req >= mb->peers)
		return;
	in = &mb->inbox[req];
	in->head = in->count = 0;
	in->dest = (req + 1) % mb->peers;
	in->overflowed = false;
	in->overflows = 0;
	device_set_irq(&mb->dev, req, false);
}

static void dev_mailbox_reset(struct device *dev)
{
	struct dev_mailbox *mb = dev_mailbox(dev);
	unsigned int i;

	for (i = 0; i < mb->peers; i++)
		dev_mailbox_reset_vm(dev, i);
	mb->sent = mb->received = mb->bad_access = 0;
}

static struct device *dev_mailbox_create(const json_t *options, uint64_t size,
					 unsigned int requesters, char *err,
					 size_t errlen)
{
	static const char *const keys[] = { "depth", NULL };
	struct dev_mailbox *mb;
	uint64_t depth;
	unsigned int i;

	if (device_opt_known(options, keys, err, errlen) < 0 ||
	    device_opt_uint(options, "depth", 16, 1, MBOX_MAX_DEPTH, &depth,
			    err, errlen) < 0)
		return NULL;
	if (size < MBOX_MIN_SIZE) {
		snprintf(err, errlen, "size: mailbox needs at least 0x%x bytes",
			 MBOX_MIN_SIZE);
		return NULL;
	}
	if (requesters == 0) {
		snprintf(err, errlen, "vms: mailbox needs at least one VM");
		return NULL;
	}
	mb = calloc(1, sizeof(*mb) + requesters * sizeof(mb->inbox[0]));
	if (!mb)
		goto oom;
	mb->depth = (unsigned int)depth;
	mb->peers = requesters;
	for (i = 0; i < requesters; i++) {
		mb->inbox[i].ring = calloc(depth, sizeof(struct mbox_msg));
		if (!mb->inbox[i].ring)
			goto oom;
	}
	dev_mailbox_reset(&mb->dev);
	return &mb->dev;
oom:
	if (mb)
		dev_mailbox_free(mb);
	snprintf(err, errlen, "out of memory");
	return NULL;
}

static const struct mbox_msg *dev_mailbox_head(const struct mbox_inbox *in)
{
	return in->count ? &in->ring[in->head] : NULL;
}

static void dev_mailbox_pop(struct dev_mailbox *mb, struct mbox_inbox *in)
{
	in->head = (in->head + 1) % mb->depth;
	in->count--;
	mb->received++;
	if (in->count == 0)
		device_set_irq(&mb->dev, (unsigned int)(in - mb->inbox), false);
}

static int dev_mailbox_send(struct dev_mailbox *mb, unsigned int from,
			    uint64_t data)
{
	struct mbox_inbox *to;

	if (mb->inbox[from].dest >= mb->peers)
		return -1;
	to = &mb->inbox[mb->inbox[from].dest];
	if (to->count == mb->depth) {
		to->overflowed = true;
		to->overflows++;
		return 0;
	}
	to->ring[(to->head + to->count) % mb->depth] =
		(struct mbox_msg){ .data = data, .from = from };
	to->count++;
	mb->sent++;
	device_set_irq(&mb->dev, mb->inbox[from].dest, true);
	return 0;
}

static uint32_t dev_mailbox_status(struct dev_mailbox *mb,
				   const struct mbox_inbox *in)
{
	uint32_t st = 0;

	if (in->count)
		st |= MBOX_STATUS_RX_READY;
	if (in->overflowed)
		st |= MBOX_STATUS_OVERFLOW;
	if (in->dest < mb->peers && mb->inbox[in->dest].count == mb->depth)
		st |= MBOX_STATUS_DEST_FULL;
	return st;
}

static int dev_mailbox_read32(struct dev_mailbox *mb, unsigned int self,
			      uint64_t offset, uint64_t *value)
{
	struct mbox_inbox *in = &mb->inbox[self];
	const struct mbox_msg *head = dev_mailbox_head(in);

	switch (offset) {
	case MBOX_ID: *value = MBOX_MAGIC; return 0;
	case MBOX_SELF: *value = self; return 0;
	case MBOX_PEERS: *value = mb->peers; return 0;
	case MBOX_DEST: *value = in->dest; return 0;
	case MBOX_RX_FROM: *value = head ? head->from : UINT32_MAX; return 0;
	case MBOX_DEPTH: *value = in->count; return 0;
	case MBOX_STATUS: *value = dev_mailbox_status(mb, in); return 0;
	case MBOX_OVERFLOWS: *value = (uint32_t)in->overflows; return 0;
	case MBOX_CAPACITY: *value = mb->depth; return 0;
	default: return -1;
	}
}

static int dev_mailbox_read(struct device *dev, unsigned int requester,
			    uint64_t offset, unsigned int size,
			    uint64_t *value)
{
	struct dev_mailbox *mb = dev_mailbox(dev);
	struct mbox_inbox *in;
	const struct mbox_msg *head;

	if (requester >= mb->peers)
		goto bad;
	in = &mb->inbox[requester];
	if (offset == MBOX_RX && (size == 4 || size == 8)) {
		head = dev_mailbox_head(in);
		*value = head ? head->data : 0;
		if (size == 4)
			*value = (uint32_t)*value;
		if (head)
			dev_mailbox_pop(mb, in);
		return 0;
	}
	if (size == 4 && dev_mailbox_read32(mb, requester, offset, value) == 0)
		return 0;
bad:
	mb->bad_access++;
	return -1;
}

static int dev_mailbox_write(struct device *dev, unsigned int requester,
			     uint64_t offset, unsigned int size,
			     uint64_t value)
{
	struct dev_mailbox *mb = dev_mailbox(dev);

	if (requester >= mb->peers)
		goto bad;
	if (offset == MBOX_TX && (size == 4 || size == 8)) {
		if (dev_mailbox_send(mb, requester, value) < 0)
			goto bad;
		return 0;
	}
	if (size != 4)
		goto bad;
	if (offset == MBOX_DEST && value < mb->peers) {
		mb->inbox[requester].dest = (unsigned int)value;
		return 0;
	}
	if (offset == MBOX_STATUS) {
		if (value & MBOX_STATUS_OVERFLOW)
			mb->inbox[requester].overflowed = false;
		return 0;
	}
bad:
	mb->bad_access++;
	return -1;
}

static void dev_mailbox_destroy(struct device *dev)
{
	dev_mailbox_free(dev_mailbox(dev));
}

static void dev_mailbox_stats(struct device *dev, device_stat_fn *emit,
			      void *ctx)
{
	struct dev_mailbox *mb = dev_mailbox(dev);
	uint64_t overflows = 0;
	unsigned int i;

	for (i = 0; i < mb->peers; i++)
		overflows += mb->inbox[i].overflows;
	emit(ctx, "sent", mb->sent);
	emit(ctx, "received", mb->received);
	emit(ctx, "overflows", overflows);
	emit(ctx, "bad_access", mb->bad_access);
}

/* One inbox: dest, flags, overflows and the waiting messages, oldest
 * first. The whole device's state and one VM's part (its inbox alone, for
 * migration) both hold it in this form. */
static void dev_mailbox_save_inbox(const struct dev_mailbox *mb,
				   unsigned int i, struct statebuf *sb)
{
	const struct mbox_inbox *in = &mb->inbox[i];
	unsigned int j;

	statebuf_put_u32(sb, in->dest);
	statebuf_put_u8(sb, in->overflowed);
	statebuf_put_u64(sb, in->overflows);
	statebuf_put_u32(sb, in->count);
	for (j = 0; j < in->count; j++) {
		const struct mbox_msg *m = &in->ring[(in->head + j) % mb->depth];

		statebuf_put_u64(sb, m->data);
		statebuf_put_u32(sb, m->from);
	}
}

static int dev_mailbox_restore_inbox(struct dev_mailbox *mb, unsigned int i,
				     struct statebuf *sb)
{
	struct mbox_inbox *in = &mb->inbox[i];
	unsigned int j;

	in->dest = statebuf_get_u32(sb);
	in->overflowed = statebuf_get_u8(sb);
	in->overflows = statebuf_get_u64(sb);
	in->count = statebuf_get_u32(sb);
	in->head = 0;
	if (in->dest >= mb->peers || in->count > mb->depth) {
		in->count = 0;
		return -1;
	}
	for (j = 0; j < in->count; j++) {
		in->ring[j].data = statebuf_get_u64(sb);
		in->ring[j].from = statebuf_get_u32(sb);
		if (in->ring[j].from >= mb->peers) {
			in->count = 0;
			return -1;
		}
	}
	device_set_irq(&mb->dev, i, in->count > 0);
	return 0;
}

static void dev_mailbox_save(struct device *dev, struct statebuf *sb)
{
	struct dev_mailbox *mb = dev_mailbox(dev);
	unsigned int i;

	statebuf_put_u32(sb, mb->peers);
	statebuf_put_u32(sb, mb->depth);
	statebuf_put_u64(sb, mb->sent);
	statebuf_put_u64(sb, mb->received);
	statebuf_put_u64(sb, mb->bad_access);
	for (i = 0; i < mb->peers; i++)
		dev_mailbox_save_inbox(mb, i, sb);
}

static int dev_mailbox_restore(struct device *dev, struct statebuf *sb,
			       int memory_fd)
{
	struct dev_mailbox *mb = dev_mailbox(dev);
	unsigned int i;

	if (statebuf_get_u32(sb) != mb->peers ||
	    statebuf_get_u32(sb) != mb->depth)
		return -1;
	mb->sent = statebuf_get_u64(sb);
	mb->received = statebuf_get_u64(sb);
	mb->bad_access = statebuf_get_u64(sb);
	for (i = 0; i < mb->peers; i++)
		if (dev_mailbox_restore_inbox(mb, i, sb) < 0)
			return -1;
	return 0;
}

/* A VM's part: the peer count and depth it was saved with (indexes in its
 * messages mean nothing elsewhere), then its inbox. */
static void dev_mailbox_save_vm(struct device *dev, unsigned int requester,
				struct statebuf *sb)
{
	struct dev_mailbox *mb = dev_mailbox(dev);

	statebuf_put_u32(sb, mb->peers);
	statebuf_put_u32(sb, mb->depth);
	if (requester < mb->peers)
		dev_mailbox_save_inbox(mb, requester, sb);
	else
		sb->error = true;
}

static int dev_mailbox_restore_vm(struct device *dev, unsigned int requester,
				  struct statebuf *sb)
{
	struct dev_mailbox *mb = dev_mailbox(dev);

	if (statebuf_get_u32(sb) != mb->peers ||
	    statebuf_get_u32(sb) != mb->depth || requester >= mb->peers)
		return -1;
	return dev_mailbox_restore_inbox(mb, requester, sb);
}

const struct device_ops device_mailbox_ops = {
	.name = "mailbox",
	.state_version = 1,
	.create = dev_mailbox_create,
	.read = dev_mailbox_read,
	.write = dev_mailbox_write,
	.reset = dev_mailbox_reset,
	.reset_vm = dev_mailbox_reset_vm,
	.destroy = dev_mailbox_destroy,
	.stats = dev_mailbox_stats,
	.save = dev_mailbox_save,
	.restore = dev_mailbox_restore,
	.save_vm = dev_mailbox_save_vm,
	.restore_vm = dev_mailbox_restore_vm,
};
