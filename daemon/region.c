/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "console.h"
#include "devstate.h"
#include "fdstore.h"
#include "irq.h"
#include "region.h"
#include "tpm_backend.h"

static void region_device_log(void *ctx, int level, const char *fmt,
			      va_list ap) __attribute__((format(printf, 3, 0)));

static void region_device_log(void *ctx, int level, const char *fmt,
			      va_list ap)
{
	struct region *r = ctx;
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	log_msg(level, "region %s: %s", r->cfg.name, line);
}

/* Room for one saved device state: the largest (a mailbox of 1024-deep
 * inboxes for many VMs) fits; pages never written cost nothing. */
#define REGION_STATE_MAX (4u << 20)

static size_t region_inboxes_size(const struct region *r)
{
	return (size_t)r->cfg.nvms * 2 * CHANNEL_IN_BYTES;
}

uint8_t *region_inbox(struct region *r, unsigned int requester,
		      unsigned int which)
{
	if (r->state.fd < 0 || requester >= r->cfg.nvms)
		return NULL;
	return stateslot_extra(&r->state) +
	       ((size_t)requester * 2 + (which != 0)) * CHANNEL_IN_BYTES;
}

/* With the fd store on: a state memfd and the device's memory, stored
 * under the region's user_data. */
static int region_store(struct region *r)
{
	struct fdstore *st = &r->d->fdstore;
	unsigned long long ud = (unsigned long long)r->user_data;
	int rc;

	if (!st->enabled)
		return 0;
	rc = stateslot_create(&r->state, "ioregiond-state", REGION_STATE_MAX,
			      region_inboxes_size(r));
	if (rc < 0) {
		r->state.fd = -1;
		errno = -rc;
		return -1;
	}
	fdstore_add(st, r->state.fd, FDSTORE_PREFIX "region-%llu", ud);
	if (r->dev->ops->memory_fd)
		fdstore_add(st, r->dev->ops->memory_fd(r->dev),
			    FDSTORE_PREFIX "ram-%llu", ud);
	region_save(r);
	return 0;
}

#define REGION_NCOUNTERS (sizeof(struct channel_counters) / sizeof(uint64_t))

/* The open channels' counters and inboxes: saved with the device state
 * after every wake-up, so a crash neither sets the counters back nor
 * loses frames read since. */
static void region_save_counters(struct region *r, struct statebuf *sb)
{
	const struct channel *ch;
	const uint64_t *v;
	uint32_t n = 0;
	size_t i;

	TAILQ_FOREACH(ch, &r->channels, region_link)
		n++;
	statebuf_put_u32(sb, n);
	TAILQ_FOREACH(ch, &r->channels, region_link) {
		v = (const uint64_t *)&ch->counters;
		statebuf_put_u32(sb, ch->requester);
		statebuf_put_u8(sb, (uint8_t)ch->in_buf);
		statebuf_put_u32(sb, (uint32_t)ch->in_len);
		for (i = 0; i < REGION_NCOUNTERS; i++)
			statebuf_put_u64(sb, v[i]);
	}
}

static int region_restore_channels(struct region *r, struct statebuf *sb)
{
	uint32_t n = statebuf_get_u32(sb), i, req;
	uint64_t *v;
	size_t j;

	if (n > r->cfg.nvms)
		return -1;
	r->saved_channels = calloc(r->cfg.nvms, sizeof(*r->saved_channels));
	if (!r->saved_channels)
		return -1;
	for (i = 0; i < n; i++) {
		req = statebuf_get_u32(sb);
		if (req >= r->cfg.nvms)
			return -1;
		r->saved_channels[req].valid = true;
		r->saved_channels[req].in_buf = statebuf_get_u8(sb) != 0;
		r->saved_channels[req].in_len = statebuf_get_u32(sb);
		v = (uint64_t *)&r->saved_channels[req].counters;
		for (j = 0; j < REGION_NCOUNTERS; j++)
			v[j] = statebuf_get_u64(sb);
	}
	return sb->error ? -1 : 0;
}

void region_save(struct region *r)
{
	struct statebuf sb;

	if (r->state.fd < 0)
		return;
	stateslot_begin(&r->state, &sb);
	statebuf_put_u64(&sb, r->irq_level);
	region_save_counters(r, &sb);
	/* The backend's state before the model's: a model restored in the
	 * middle of a command submits it again to a backend that is back. */
	if (r->tpm)
		tpm_backend_save(r->tpm, &sb);
	/* The same record migration uses, with the memory kept in its
	 * memfd instead of copied. */
	devstate_save(r->dev, r->cfg.name, r->cfg.size, 0,
		      DEVICE_ALL_REQUESTERS, &sb);
	if (stateslot_commit(&r->state, &sb) < 0) {
		ioregiond_count(r->d, state_errors);
		log_limited(&r->save_errors, LOG_ERR,
			    "region %s: device state larger than %u bytes, not saved",
			    r->cfg.name, REGION_STATE_MAX);
	}
}

/* Withdraws the state memfd and the device memory from the store. */
static void region_unstore(struct region *r)
{
	unsigned long long ud = (unsigned long long)r->user_data;

	fdstore_remove(&r->d->fdstore, FDSTORE_PREFIX "region-%llu", ud);
	if (r->dev->ops->memory_fd)
		fdstore_remove(&r->d->fdstore, FDSTORE_PREFIX "ram-%llu", ud);
	stateslot_close(&r->state);
}

/* The device's record in a restart's save: checked whole, then applied;
 * a model that refuses it part way starts fresh (reset). A save without
 * the record's magic is a daemon's from before the record existed (1.2):
 * the model's fields alone, taken as they are so an upgrade keeps state. */
static int region_restore_device(struct region *r, struct statebuf *sb,
				 int memory_fd, char *why, size_t whylen)
{
	struct devstate_record rec;
	size_t at = sb->len;
	int rc;

	rc = devstate_parse(sb, &rec, why, whylen);
	if (rc == -EBADMSG && at + 8 <= sb->cap &&
	    memcmp(sb->data + at, DEVSTATE_MAGIC, 8) != 0) {
		sb->len = at;
		if (device_restore(r->dev, sb, memory_fd) == 0)
			return 0;
		snprintf(why, whylen, "the saved state does not fit the %s device",
			 r->cfg.device);
		return -1;
	}
	if (rc < 0 || devstate_check(&rec, r->dev, r->cfg.name, r->cfg.size,
				     why, whylen) < 0)
		return -1;
	if (rec.flags != 0 || !statebuf_done(sb)) {
		snprintf(why, whylen, "region %s: not a restart's record",
			 r->cfg.name);
		return -1;
	}
	if (devstate_apply(r->dev, &rec, DEVICE_ALL_REQUESTERS, memory_fd, why,
			   whylen) < 0) {
		r->dev->ops->reset(r->dev);
		return -1;
	}
	return 0;
}

/* Maps state_fd (taking it on success) and restores the device from its
 * newest save. */
static int region_adopt(struct region *r, int state_fd, int memory_fd,
			char *why, size_t whylen)
{
	struct statebuf sb;

	if (state_fd < 0) {
		snprintf(why, whylen, "no state memfd was passed back");
		return -1;
	}
	if (stateslot_open(&r->state, state_fd, why, whylen) < 0) {
		r->state.fd = -1;
		return -1;
	}
	if (r->state.extra != region_inboxes_size(r)) {
		snprintf(why, whylen, "its channel inboxes do not fit the region");
		return -1;
	}
	if (stateslot_load(&r->state, &sb) < 0) {
		snprintf(why, whylen, "no complete save in the state memfd");
		return -1;
	}
	r->irq_level = statebuf_get_u64(&sb);
	if (region_restore_channels(r, &sb) < 0) {
		snprintf(why, whylen, "its channel counters do not fit the region");
		r->irq_level = 0;
		return -1;
	}
	if (r->tpm && tpm_backend_restore(r->tpm, &sb) < 0) {
		snprintf(why, whylen, "the saved state of its TPMs does not fit");
		r->irq_level = 0;
		return -1;
	}
	if (region_restore_device(r, &sb, memory_fd, why, whylen) < 0) {
		r->irq_level = 0;
		return -1;
	}
	return 0;
}

int region_restore(struct region *r, uint64_t user_data, int state_fd,
		   int memory_fd, char *why, size_t whylen)
{
	int rc;

	region_unstore(r);
	r->user_data = user_data;
	rc = region_adopt(r, state_fd, memory_fd, why, whylen);
	if (rc < 0) {
		if (r->state.fd < 0 && state_fd >= 0)
			close(state_fd);
		/* What was stored under this region goes; fresh state in. */
		free(r->saved_channels);
		r->saved_channels = NULL;
		region_unstore(r);
		region_store(r);
	}
	if (memory_fd >= 0)
		close(memory_fd);
	return rc;
}

void region_power_on(struct region *r, unsigned int requester)
{
	if (!r->tpm)
		return;
	/* The model first: what the backend then answers is stale to it. */
	if (r->dev->ops->reset_vm)
		r->dev->ops->reset_vm(r->dev, requester);
	tpm_backend_power_on(r->tpm, requester);
}

void region_reset_vm(struct region *r, unsigned int requester)
{
	if (r->dev->ops->reset_vm)
		r->dev->ops->reset_vm(r->dev, requester);
	else if (r->cfg.nvms == 1)
		r->dev->ops->reset(r->dev);
	tpm_backend_power_on(r->tpm, requester);
	region_save(r);
}

struct region *region_new(struct ioregiond *d, const struct config_region *cfg,
			  bool plugged, struct config_errors *errs)
{
	struct region *r = calloc(1, sizeof(*r));
	struct device_host host = {
		.log = region_device_log,
		.set_irq = irq_region_set,
		.output = console_output,
		.input_ready = console_input_ready,
		.submit = tpm_backend_submit,
	};
	char why[256] = "out of memory";

	if (!r || config_region_copy(&r->cfg, cfg) < 0) {
		free(r);
		config_errors_add(errs, "region %s: out of memory", cfg->name);
		return NULL;
	}
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		config_region_clear(&r->cfg);
		free(r);
		config_errors_add(errs, "region %s: out of memory", cfg->name);
		return NULL;
	}
	r->d = d;
	r->plugged = plugged;
	r->user_data = ++d->next_user_data;
	TAILQ_INIT(&r->channels);
	host.ctx = r;
	r->dev = device_create(device_find(cfg->device), cfg->options,
			       cfg->size, cfg->nvms, &host, why, sizeof(why));
	if (!r->dev) {
		config_errors_add(errs, "region %s: %s", cfg->name, why);
		config_region_clear(&r->cfg);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return NULL;
	}
	r->state.fd = -1;
	if (r->dev->ops->complete && !(r->tpm = tpm_backend_new(r, errs))) {
		region_free(r);
		return NULL;
	}
	if (cfg->input_socket && !(r->console = console_open(r))) {
		config_errors_add(errs, "region %s: input.socket %s: %s",
				  cfg->name, cfg->input_socket, strerror(errno));
		region_free(r);
		return NULL;
	}
	if (region_store(r) < 0) {
		config_errors_add(errs, "region %s: state memfd: %s", cfg->name,
				  strerror(errno));
		region_free(r);
		return NULL;
	}
	return r;
}

void region_free(struct region *r)
{
	region_unstore(r);
	free(r->saved_channels);
	console_close(r->console);
	tpm_backend_free(r->tpm);
	r->dev->handed_over = r->d->fdstore.keeping;
	r->dev->ops->destroy(r->dev);
	config_region_clear(&r->cfg);
	free(r->plug_json);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
