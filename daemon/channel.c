/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "fdstore.h"
#include "pollset.h"
#include "region.h"
#include "regionset.h"
#include "vm.h"
#include "worker.h"

static void channel_on_event(evutil_socket_t fd, short what, void *arg);

/* What an inbox holds where nothing was read yet: no frame starts with
 * it (cmd is 0 or 1). */
#define CHANNEL_UNREAD 0xff

struct channel *channel_new(struct vm *vm, const char *region_name)
{
	struct channel *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->vm = vm;
	ch->fd = -1;
	ch->in = ch->in_local;
	snprintf(ch->region_name, sizeof(ch->region_name), "%s", region_name);
	return ch;
}

void channel_free(struct channel *ch)
{
	if (channel_is_open(ch))
		channel_close(ch, "daemon shutting down");
	free(ch);
}

bool channel_is_open(const struct channel *ch)
{
	return ch->region != NULL;
}

void channel_counters_get(const struct channel *ch,
			  struct channel_counters *out)
{
	/* Closed, its irqs still count under its region's lock (irq.c). */
	struct region *r = ch->region ? ch->region
				      : regionset_find(ch->vm->d, ch->region_name);

	if (r)
		pthread_mutex_lock(&r->lock);
	*out = ch->counters;
	if (r)
		pthread_mutex_unlock(&r->lock);
}

/* Starts serving fd for vm's place in region. */
static int channel_attach(struct channel *ch, struct region *region, int fd)
{
	int idx = config_region_vm_index(&region->cfg, ch->vm->name);

	if (idx < 0)
		return -EACCES;
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	ch->waiting_to_write = ch->out_off < ch->out_len;
	ch->worker = worker_place(ch, region);
	ch->ev = event_new(ch->worker->base, fd,
			   (ch->waiting_to_write ? EV_WRITE : EV_READ) |
			   EV_PERSIST, channel_on_event, ch);
	if (!ch->ev || event_add(ch->ev, NULL) < 0) {
		if (ch->ev)
			event_free(ch->ev);
		ch->ev = NULL;
		worker_unplace(ch);
		ch->worker = NULL;
		return -ENOMEM;
	}
	ch->fd = fd;
	ch->region = region;
	ch->requester = (unsigned int)idx;
	ch->poll_window = 0;
	ch->in = region_inbox(region, ch->requester, ch->in_buf);
	if (!ch->in)
		ch->in = ch->in_local;
	TAILQ_INSERT_TAIL(&region->channels, ch, region_link);
	return 0;
}

int channel_open(struct channel *ch, struct region *region, int *peer)
{
	struct ioregiond *d = region->d;
	int sv[2], rc;

	if (channel_reap(ch))
		return -EBUSY;
	if (config_region_vm_index(&region->cfg, ch->vm->name) < 0)
		return -EACCES;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	ch->in_len = ch->out_len = ch->out_off = 0;
	ch->nbatch = 0;
	ch->in_buf = 0;
	rc = channel_attach(ch, region, sv[0]);
	if (rc < 0) {
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (ch->in != ch->in_local)
		memset(ch->in, CHANNEL_UNREAD, CHANNEL_IN_BYTES);
	d->counters.regions_opened++;
	ch->store_id = ++d->next_store_id;
	fdstore_add(&d->fdstore, ch->fd, FDSTORE_PREFIX "channel-%llu",
		    (unsigned long long)ch->store_id);
	*peer = sv[1];
	return 0;
}

int channel_adopt(struct channel *ch, struct region *region, int fd)
{
	if (channel_reap(ch))
		return -EBUSY;
	return channel_attach(ch, region, fd);
}

void channel_close(struct channel *ch, const char *why)
{
	if (!channel_is_open(ch))
		return;
	/* Stopping to be started again, the channel goes on in the next
	 * daemon: nothing to say. */
	if (!ch->region->d->fdstore.keeping)
		log_info("vm %s region %s: closed (%s)", ch->vm->name,
			 ch->region_name, why);
	pollset_remove(ch);
	worker_cancel_close(ch);
	event_free(ch->ev);
	ch->ev = NULL;
	worker_unplace(ch);
	ch->worker = NULL;
	fdstore_remove(&ch->region->d->fdstore, FDSTORE_PREFIX "channel-%llu",
		       (unsigned long long)ch->store_id);
	close(ch->fd);
	ch->fd = -1;
	ch->in = ch->in_local;
	ch->in_len = 0;
	ch->out_len = ch->out_off = 0;
	ch->stopped = false;
	TAILQ_REMOVE(&ch->region->channels, ch, region_link);
	ch->region->d->counters.regions_closed++;
	ioregiond_state_changed(ch->region->d);
	ch->region = NULL;
}

/* The channel is dead: closed now on the main thread, by the main thread
 * once told from a worker. */
static void channel_fail(struct channel *ch, const char *why)
{
	if (worker_on_main())
		channel_close(ch, why);
	else
		worker_defer_close(ch, why);
}

/* Counts errors and logs them, rate-limited, with the VM and region. */
static void channel_error(struct channel *ch, unsigned int count,
			  const char *what, unsigned long long offset)
{
	ch->counters.errors += count;
	log_limited(&ch->ratelimit, LOG_WARNING,
		    "vm %s region %s: %s at offset 0x%llx", ch->vm->name,
		    ch->region_name, what, offset);
}

static void channel_flush_batch(struct channel *ch)
{
	unsigned int failed;

	if (ch->nbatch == 0)
		return;
	failed = device_write_batch(ch->region->dev, ch->batch, ch->nbatch);
	ch->counters.posted += ch->nbatch;
	ch->counters.batches++;
	if (failed)
		channel_error(ch, failed, "posted writes the device refused",
			      ch->batch[0].offset);
	ch->nbatch = 0;
}

static void channel_respond(struct channel *ch, uint64_t data)
{
	struct ioregion_resp *resp = (struct ioregion_resp *)
		((uint8_t *)ch->out + ch->out_len);

	memset(resp, 0, sizeof(*resp));
	resp->data = data;
	ch->out_len += sizeof(*resp);
}

static void channel_serve_one(struct channel *ch, const struct ioregion_cmd *c)
{
	struct device *dev = ch->region->dev;
	enum ioregion_check check = ioregion_cmd_check(c);
	bool resp = ioregion_info_resp(c->info);
	unsigned int size;
	uint64_t value;

	if (check != IOREGION_CHECK_OK) {
		channel_flush_batch(ch);
		channel_error(ch, 1, ioregion_check_str(check), c->offset);
		if (resp)
			channel_respond(ch, UINT64_MAX);
		return;
	}
	size = ioregion_size_bytes(ioregion_info_size_exp(c->info));
	if (c->cmd == IOREGION_CMD_WRITE && !resp) {
		ch->batch[ch->nbatch++] = (struct device_write){
			.offset = c->offset,
			.data = c->data & ioregion_size_mask(size),
			.size = size,
			.requester = ch->requester,
		};
		return;
	}
	/* Posted writes queued before this access must land first. */
	channel_flush_batch(ch);
	if (c->cmd == IOREGION_CMD_READ) {
		ch->counters.reads++;
		if (dev->ops->read(dev, ch->requester, c->offset, size,
				   &value) < 0) {
			channel_error(ch, 1, "read the device refused", c->offset);
			value = UINT64_MAX;
		}
		channel_respond(ch, value & ioregion_size_mask(size));
		return;
	}
	ch->counters.writes++;
	if (dev->ops->write(dev, ch->requester, c->offset, size,
			    c->data & ioregion_size_mask(size)) < 0)
		channel_error(ch, 1, "write the device refused", c->offset);
	channel_respond(ch, 0);
}

size_t channel_serve(struct channel *ch, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (len - done >= IOREGION_FRAME_SIZE) {
		struct ioregion_cmd c;

		memcpy(&c, buf + done, sizeof(c));
		channel_serve_one(ch, &c);
		done += IOREGION_FRAME_SIZE;
	}
	channel_flush_batch(ch);
	return done;
}

/* Returns 1 when every response is out, 0 when the socket is full, -1 on
 * error. */
static int channel_send(struct channel *ch)
{
	while (ch->out_off < ch->out_len) {
		ssize_t n = send(ch->fd, (uint8_t *)ch->out + ch->out_off,
				 ch->out_len - ch->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		ch->out_off += (size_t)n;
	}
	ch->out_off = ch->out_len = 0;
	return 1;
}

/* A VMM that stops reading responses gets no more commands read until it
 * does: the daemon never buffers more than one batch for it. */
static void channel_wait_writable(struct channel *ch, bool wait)
{
	if (ch->waiting_to_write == wait)
		return;
	ch->waiting_to_write = wait;
	event_del(ch->ev);
	event_assign(ch->ev, ch->worker->base, ch->fd,
		     (wait ? EV_WRITE : EV_READ) | EV_PERSIST,
		     channel_on_event, ch);
	event_add(ch->ev, NULL);
}

/* Drops the first used bytes of the inbox. With the fd store on, what is
 * left moves to the other inbox, the rest of which is marked unread: the
 * state saved next names that inbox, and frames read into it after that
 * are found there again after a crash. */
static void channel_consumed(struct channel *ch, size_t used)
{
	size_t rest = ch->in_len - used;
	uint8_t *next;

	if (ch->in == ch->in_local) {
		memmove(ch->in, ch->in + used, rest);
		ch->in_len = rest;
		return;
	}
	next = region_inbox(ch->region, ch->requester, !ch->in_buf);
	memcpy(next, ch->in + used, rest);
	memset(next + rest, CHANNEL_UNREAD, CHANNEL_IN_BYTES - rest);
	ch->in_buf = !ch->in_buf;
	ch->in = next;
	ch->in_len = rest;
}

unsigned int channel_resume(struct channel *ch, unsigned int in_buf,
			    size_t in_len)
{
	uint8_t *inbox = region_inbox(ch->region, ch->requester, in_buf != 0);
	size_t end = in_len, used;

	if (!inbox || in_len > CHANNEL_IN_BYTES)
		return 0;
	ch->in_buf = in_buf != 0;
	ch->in = inbox;
	/* Whole frames only: a frame starts unread or was read whole. */
	if (in_len % IOREGION_FRAME_SIZE == 0)
		while (end < CHANNEL_IN_BYTES && inbox[end] != CHANNEL_UNREAD)
			end += IOREGION_FRAME_SIZE;
	ch->in_len = end;
	used = channel_serve(ch, ch->in, ch->in_len);
	channel_consumed(ch, used);
	region_save(ch->region);
	channel_wait_writable(ch, channel_send(ch) == 0);
	return (unsigned int)(used / IOREGION_FRAME_SIZE);
}

/* One read, serve, respond cycle. Returns the bytes read (0: nothing to
 * read) with *full set when they filled the inbox, or -1 when the channel
 * was closed. ch->waiting_to_write tells whether the responses wait for
 * room. */
static ssize_t channel_round_locked(struct channel *ch, bool *full)
{
	size_t room = CHANNEL_IN_BYTES - ch->in_len;
	ssize_t n;
	size_t used;
	int sent;

	*full = false;
	n = recv(ch->fd, ch->in + ch->in_len, room, MSG_DONTWAIT);
	if (n == 0) {
		channel_fail(ch, "peer closed");
		return -1;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		channel_fail(ch, strerror(errno));
		return -1;
	}
	ch->in_len += (size_t)n;
	used = channel_serve(ch, ch->in, ch->in_len);
	channel_consumed(ch, used);
	/* Saved right before the responses leave: a guest never sees an
	 * access acknowledged that a crash would undo. */
	if (used)
		region_save(ch->region);
	sent = channel_send(ch);
	if (sent < 0) {
		channel_fail(ch, strerror(errno));
		return -1;
	}
	if (sent == 0)
		channel_wait_writable(ch, true);
	*full = (size_t)n == room;
	return n;
}

/* Under the region's lock: VMs sharing its device may be served by other
 * workers. The region outlives a close inside. */
static ssize_t channel_round(struct channel *ch, bool *full)
{
	struct region *r = ch->region;
	ssize_t n;

	pthread_mutex_lock(&r->lock);
	n = channel_round_locked(ch, full);
	pthread_mutex_unlock(&r->lock);
	return n;
}

int channel_poll(struct channel *ch)
{
	bool full;
	ssize_t n = channel_round(ch, &full);

	if (n < 0)
		return -1;
	if (ch->waiting_to_write) {
		pollset_remove(ch);
		return -1;
	}
	return n > 0;
}

static void channel_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct channel *ch = arg;
	unsigned int round;
	bool full = true, served = false;
	ssize_t n;
	int rc;

	if (ch->waiting_to_write) {
		rc = channel_send(ch);
		if (rc < 0)
			channel_fail(ch, strerror(errno));
		else if (rc > 0)
			channel_wait_writable(ch, false);
		return;
	}
	for (round = 0; round < CHANNEL_ROUNDS && full; round++) {
		n = channel_round(ch, &full);
		if (n < 0)
			return;
		served |= n > 0;
		if (ch->waiting_to_write)
			return;
	}
	if (served)
		pollset_touch(ch, ch->polling);
}

int channel_stop(struct channel *ch)
{
	unsigned int frames = 0;
	bool full;
	ssize_t n;

	if (!channel_is_open(ch) || ch->stopped)
		return 0;
	/* Everything on the socket was sent before the vCPUs stopped: read
	 * it all, whatever the round limit of a wake-up, and serve it. */
	for (;;) {
		if (ch->waiting_to_write) {
			int rc = channel_send(ch);

			if (rc < 0) {
				channel_close(ch, strerror(errno));
				return -EPIPE;
			}
			/* A VMM that reads no responses: the frames behind
			 * them stay unread, and a stop now would leave them
			 * for a TakeOver to drop. It stays running. */
			if (rc == 0)
				return -EAGAIN;
			channel_wait_writable(ch, false);
		}
		n = channel_round(ch, &full);
		if (n < 0)
			return -EPIPE;
		if (n == 0 && !ch->waiting_to_write)
			break;
		frames += (unsigned int)(n / IOREGION_FRAME_SIZE);
	}
	pollset_remove(ch);
	event_del(ch->ev);
	ch->stopped = true;
	return (int)frames;
}

bool channel_reap(struct channel *ch)
{
	struct pollfd p = { .fd = ch->fd, .events = POLLRDHUP };
	bool full;

	if (!channel_is_open(ch) || worker_close_if_queued(ch))
		return false;
	/* A stopped one is read again, and its end noticed, by ContVm. */
	if (ch->stopped || poll(&p, 1, 0) != 1 ||
	    !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return true;
	/* Hung up: what it sent before is served, each round's responses
	 * sent before the next is read (out holds one round); the end of it
	 * closes. Responses it does not read close it now: it hung up. */
	for (;;) {
		if (ch->waiting_to_write) {
			int rc = channel_send(ch);

			if (rc <= 0) {
				channel_close(ch, rc < 0 ? strerror(errno) :
					      "hung up with responses unread");
				return false;
			}
			channel_wait_writable(ch, false);
		}
		if (channel_round(ch, &full) <= 0)
			break;
	}
	return channel_is_open(ch);
}

void channel_cont(struct channel *ch)
{
	if (!channel_is_open(ch) || !ch->stopped)
		return;
	ch->stopped = false;
	event_add(ch->ev, NULL);
	/* Frames that came while it was stopped wait on the socket. */
	event_active(ch->ev, ch->waiting_to_write ? EV_WRITE : EV_READ, 0);
}
