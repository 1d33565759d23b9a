/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "channel.h"
#include "fdstore.h"
#include "irq.h"
#include "region.h"
#include "regionset.h"
#include "restart.h"
#include "session.h"
#include "stateslot.h"
#include "vm.h"

/* Room for the record of thousands of sessions and channels; pages never
 * written cost nothing. */
#define RESTART_STATE_MAX (64u << 20)
#define RESTART_STRING_MAX 65536

#define RESTART_DAEMON_COUNTERS \
	(sizeof(struct ioregiond_counters) / sizeof(uint64_t))
#define RESTART_CHANNEL_COUNTERS \
	(sizeof(struct channel_counters) / sizeof(uint64_t))

/* A region as the record has it. */
struct restart_region {
	char *name;
	char *definition;	/* restart_definition() when saved */
	char *plug_json;	/* plugged regions only */
	uint64_t user_data;
	bool plugged;
	bool kept;		/* restored: its channels are served again */
};

static void restart_put_str(struct statebuf *sb, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	statebuf_put_u32(sb, (uint32_t)n);
	statebuf_put_bytes(sb, s, n);
}

/* A copy of the next string; NULL with sb->error set when there is none. */
static char *restart_get_str(struct statebuf *sb)
{
	uint32_t n = statebuf_get_u32(sb);
	char *s;

	if (sb->error || n > RESTART_STRING_MAX || n > sb->cap - sb->len ||
	    !(s = malloc(n + 1))) {
		sb->error = true;
		return NULL;
	}
	statebuf_get_bytes(sb, s, n);
	s[n] = '\0';
	return s;
}

/* Counters: their number, then each, so a build with more or fewer
 * counters still reads the ones both know. */
static void restart_put_counters(struct statebuf *sb, const uint64_t *v,
				 size_t n)
{
	size_t i;

	statebuf_put_u32(sb, (uint32_t)n);
	for (i = 0; i < n; i++)
		statebuf_put_u64(sb, v[i]);
}

static void restart_get_counters(struct statebuf *sb, uint64_t *v, size_t n)
{
	uint32_t saved = statebuf_get_u32(sb), i;

	for (i = 0; i < saved && !sb->error; i++) {
		uint64_t x = statebuf_get_u64(sb);

		if (i < n)
			v[i] = x;
	}
}

/* Everything that decides whether a saved device state still fits. */
static char *restart_definition(const struct config_region *c)
{
	char *opts = c->options ? json_dumps(c->options, JSON_COMPACT |
					     JSON_SORT_KEYS) : NULL;
	char *out = NULL;
	size_t len;
	unsigned int i;
	FILE *f = open_memstream(&out, &len);

	if (!f) {
		free(opts);
		return NULL;
	}
	fprintf(f, "%s %s %d 0x%llx 0x%llx %d %d %u %s %s", c->name,
		c->device, (int)c->bus, (unsigned long long)c->address,
		(unsigned long long)c->size, c->posted_writes, c->has_irq,
		c->irq, c->input_socket ? c->input_socket : "-",
		opts ? opts : "{}");
	for (i = 0; i < c->nvms; i++)
		fprintf(f, " %s", c->vms[i]);
	fclose(f);
	free(opts);
	return out;
}

static void restart_put_channel(struct statebuf *sb, const struct channel *ch)
{
	size_t out = ch->out_len - ch->out_off;

	restart_put_str(sb, ch->region_name);
	statebuf_put_u8(sb, channel_is_open(ch));
	statebuf_put_u64(sb, ch->store_id);
	statebuf_put_u64(sb, ch->opener);
	restart_put_counters(sb, (const uint64_t *)&ch->counters,
			     RESTART_CHANNEL_COUNTERS);
	statebuf_put_u32(sb, (uint32_t)out);
	statebuf_put_bytes(sb, (const uint8_t *)ch->out + ch->out_off, out);
}

static void restart_put_vm(struct statebuf *sb, const struct vm *vm)
{
	const struct channel *ch;
	const struct irq_line *l;
	uint32_t n = 0;

	restart_put_str(sb, vm->name);
	TAILQ_FOREACH(ch, &vm->channels, vm_link)
		n++;
	statebuf_put_u32(sb, n);
	TAILQ_FOREACH(ch, &vm->channels, vm_link)
		restart_put_channel(sb, ch);
	n = 0;
	TAILQ_FOREACH(l, &vm->irqs, link)
		n++;
	statebuf_put_u32(sb, n);
	TAILQ_FOREACH(l, &vm->irqs, link) {
		statebuf_put_u32(sb, l->line);
		statebuf_put_u64(sb, l->store_id);
		statebuf_put_u64(sb, l->signals);
		statebuf_put_u64(sb, l->errors);
	}
}

static void restart_put_session(struct statebuf *sb, const struct session *s)
{
	statebuf_put_u64(sb, s->id);
	statebuf_put_u8(sb, s->greeted);
	statebuf_put_u8(sb, s->subscribed);
	statebuf_put_u32(sb, s->strikes);
	restart_put_str(sb, s->client_name);
	restart_put_str(sb, s->vm_name);
}

static void restart_put_region(struct statebuf *sb, const struct region *r)
{
	char *def = restart_definition(&r->cfg);

	restart_put_str(sb, r->cfg.name);
	statebuf_put_u64(sb, r->user_data);
	statebuf_put_u8(sb, r->plugged && r->plug_json);
	restart_put_str(sb, r->plugged ? r->plug_json : NULL);
	restart_put_str(sb, def);
	if (!def)
		sb->error = true;
	free(def);
}

void restart_save(struct ioregiond *d)
{
	const struct region *r;
	const struct vm *vm;
	const struct session *s;
	struct statebuf sb;
	uint32_t n;

	if (!d->state)
		return;
	stateslot_begin(d->state, &sb);
	statebuf_put_u64(&sb, d->next_session_id);
	statebuf_put_u64(&sb, d->next_user_data);
	statebuf_put_u64(&sb, d->next_store_id);
	restart_put_counters(&sb, (const uint64_t *)&d->counters,
			     RESTART_DAEMON_COUNTERS);
	n = 0;
	TAILQ_FOREACH(r, &d->regions, link)
		n++;
	statebuf_put_u32(&sb, n);
	TAILQ_FOREACH(r, &d->regions, link)
		restart_put_region(&sb, r);
	n = 0;
	TAILQ_FOREACH(vm, &d->vms, link)
		n++;
	statebuf_put_u32(&sb, n);
	TAILQ_FOREACH(vm, &d->vms, link)
		restart_put_vm(&sb, vm);
	n = 0;
	TAILQ_FOREACH(s, &d->sessions, link)
		n += !s->closing;
	statebuf_put_u32(&sb, n);
	TAILQ_FOREACH(s, &d->sessions, link)
		if (!s->closing)
			restart_put_session(&sb, s);
	/* After the sessions, so a daemon from before it (1.2) reads the
	 * record as ever: the incoming connections, still waiting for
	 * TakeOver. */
	n = 0;
	TAILQ_FOREACH(s, &d->sessions, link)
		n += !s->closing && s->incoming;
	statebuf_put_u32(&sb, n);
	TAILQ_FOREACH(s, &d->sessions, link)
		if (!s->closing && s->incoming)
			statebuf_put_u64(&sb, s->id);
	if (stateslot_commit(d->state, &sb) < 0) {
		ioregiond_count(d, state_errors);
		log_err("saved state: the record does not fit %u bytes; the last one stays",
			RESTART_STATE_MAX);
	}
}

/* Deferred (ioregiond_state_changed), it runs in a pause: the channels'
 * and devices' state is read with no worker serving. */
static void restart_on_save(struct worker_job *job)
{
	restart_save((struct ioregiond *)((char *)job -
					  offsetof(struct ioregiond, save_job)));
}

/* The record a previous daemon left, mapped into d->state; -1 when there
 * is none or it is refused. */
static int restart_open_record(struct ioregiond *d, struct statebuf *sb)
{
	int fd = fdstore_claim(&d->fdstore, FDSTORE_PREFIX "state");
	char why[160] = "";

	if (fd < 0)
		return -1;
	d->state = calloc(1, sizeof(*d->state));
	if (d->state && stateslot_open(d->state, fd, why, sizeof(why)) == 0) {
		if (stateslot_load(d->state, sb) == 0)
			return 0;
		snprintf(why, sizeof(why), "no complete save in it");
		stateslot_close(d->state);
		fd = -1;
	}
	ioregiond_count(d, state_errors);
	log_err("saved daemon state refused: %s; starting fresh",
		why[0] ? why : "out of memory");
	if (fd >= 0)
		close(fd);
	fdstore_remove(&d->fdstore, FDSTORE_PREFIX "state");
	free(d->state);
	d->state = NULL;
	return -1;
}

static void restart_regions_free(struct restart_region *rs, uint32_t n)
{
	uint32_t i;

	for (i = 0; rs && i < n; i++) {
		free(rs[i].name);
		free(rs[i].definition);
		free(rs[i].plug_json);
	}
	free(rs);
}

static struct restart_region *restart_get_regions(struct statebuf *sb,
						  uint32_t *n)
{
	struct restart_region *rs;
	uint32_t i;

	*n = statebuf_get_u32(sb);
	if (sb->error || *n > sb->cap / 8 ||
	    !(rs = calloc(*n + 1, sizeof(*rs)))) {
		sb->error = true;
		*n = 0;
		return NULL;
	}
	for (i = 0; i < *n && !sb->error; i++) {
		rs[i].name = restart_get_str(sb);
		rs[i].user_data = statebuf_get_u64(sb);
		rs[i].plugged = statebuf_get_u8(sb);
		rs[i].plug_json = restart_get_str(sb);
		rs[i].definition = restart_get_str(sb);
	}
	return rs;
}

static void restart_plug(struct ioregiond *d, const struct restart_region *rs,
			 uint32_t n)
{
	struct config_errors errs = { 0 };
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (!rs[i].plugged || !rs[i].plug_json)
			continue;
		if (regionset_plug(d, rs[i].plug_json, &errs) < 0) {
			char *text = config_errors_join(&errs);

			log_err("region %s: cannot plug it again: %s",
				rs[i].name, text ? text : "out of memory");
			free(text);
		}
		config_errors_clear(&errs);
	}
}

/* Gives the live region of that name its saved state back. */
static void restart_region(struct ioregiond *d, struct restart_region *rr)
{
	struct region *r = regionset_find(d, rr->name);
	unsigned long long ud = (unsigned long long)rr->user_data;
	char name[64], why[200];
	char *def;
	int state_fd, memory_fd;

	if (!r) {
		log_info("region %s: no longer configured; its saved state is dropped",
			 rr->name);
		return;
	}
	def = restart_definition(&r->cfg);
	if (!def || strcmp(def, rr->definition) != 0) {
		log_info("region %s: its definition changed; it starts fresh",
			 rr->name);
		free(def);
		return;
	}
	free(def);
	snprintf(name, sizeof(name), FDSTORE_PREFIX "region-%llu", ud);
	state_fd = fdstore_claim(&d->fdstore, name);
	snprintf(name, sizeof(name), FDSTORE_PREFIX "ram-%llu", ud);
	memory_fd = fdstore_claim(&d->fdstore, name);
	if (region_restore(r, rr->user_data, state_fd, memory_fd, why,
			   sizeof(why)) < 0) {
		ioregiond_count(d, state_errors);
		log_err("region %s: saved state refused: %s; it starts fresh",
			rr->name, why);
	}
	rr->kept = true;
}

static bool restart_kept(const struct restart_region *rs, uint32_t n,
			 const char *name)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (rs[i].kept && strcmp(rs[i].name, name) == 0)
			return true;
	return false;
}

/* Serves what a crashed daemon had read into the channel's inbox. */
static void restart_resume(struct channel *ch,
			   const struct region_saved_channel *saved)
{
	unsigned int n = channel_resume(ch, saved->in_buf, saved->in_len);

	if (n)
		log_info("vm %s region %s: served %u frame(s) read before the restart",
			 ch->vm->name, ch->region_name, n);
}

/* One channel record: counters always; its fd served again when its
 * region was kept. */
static void restart_channel(struct ioregiond *d, struct vm *vm,
			    struct statebuf *sb,
			    const struct restart_region *rs, uint32_t nrs)
{
	char *region_name = restart_get_str(sb);
	bool open = statebuf_get_u8(sb);
	uint64_t store_id = statebuf_get_u64(sb);
	uint64_t opener = statebuf_get_u64(sb);
	struct channel_counters counters = { 0 };
	struct channel *ch;
	const struct region_saved_channel *saved;
	struct region *r;
	uint32_t out_len;
	char name[64];
	int fd;

	restart_get_counters(sb, (uint64_t *)&counters,
			     RESTART_CHANNEL_COUNTERS);
	ch = sb->error || !region_name ? NULL : vm_channel(vm, region_name);
	if (!ch) {
		free(region_name);
		sb->error = true;
		return;
	}
	ch->counters = counters;
	ch->opener = opener;
	out_len = statebuf_get_u32(sb);
	if (out_len > sizeof(ch->out) || out_len % IOREGION_FRAME_SIZE) {
		sb->error = true;
		out_len = 0;
	}
	statebuf_get_bytes(sb, ch->out, out_len);
	ch->out_off = 0;
	ch->out_len = out_len;
	snprintf(name, sizeof(name), FDSTORE_PREFIX "channel-%llu",
		 (unsigned long long)store_id);
	fd = open ? fdstore_claim(&d->fdstore, name) : -1;
	r = regionset_find(d, region_name);
	if (fd >= 0 && r && restart_kept(rs, nrs, region_name)) {
		ch->store_id = store_id;
		if (channel_adopt(ch, r, fd) == 0)
			fd = -1;
		saved = fd < 0 && r->saved_channels ?
			&r->saved_channels[ch->requester] : NULL;
		if (saved && saved->valid) {
			ch->counters = saved->counters;
			restart_resume(ch, saved);
		}
	}
	if (fd >= 0) {
		log_info("vm %s region %s: not served again; closed",
			 vm->name, region_name);
		fdstore_remove(&d->fdstore, "%s", name);
		close(fd);
		ch->out_len = 0;
	}
	free(region_name);
}

static void restart_irq(struct ioregiond *d, struct vm *vm,
			struct statebuf *sb)
{
	unsigned int line = statebuf_get_u32(sb);
	uint64_t store_id = statebuf_get_u64(sb);
	uint64_t signals = statebuf_get_u64(sb);
	uint64_t errors = statebuf_get_u64(sb);
	struct irq_line *l;
	char name[64];
	int fd;

	snprintf(name, sizeof(name), FDSTORE_PREFIX "irq-%llu",
		 (unsigned long long)store_id);
	fd = sb->error ? -1 : fdstore_claim(&d->fdstore, name);
	if (fd < 0)
		return;
	l = irq_line_adopt(vm, line, fd, store_id);
	if (!l) {
		close(fd);
		return;
	}
	l->signals = signals;
	l->errors = errors;
}

static void restart_vms(struct ioregiond *d, struct statebuf *sb,
			const struct restart_region *rs, uint32_t nrs)
{
	uint32_t nvms = statebuf_get_u32(sb), i, j, n;

	for (i = 0; i < nvms && !sb->error; i++) {
		char *name = restart_get_str(sb);
		struct vm *vm = name ? vm_get(d, name) : NULL;

		free(name);
		if (!vm) {
			sb->error = true;
			return;
		}
		n = statebuf_get_u32(sb);
		for (j = 0; j < n && !sb->error; j++)
			restart_channel(d, vm, sb, rs, nrs);
		n = statebuf_get_u32(sb);
		for (j = 0; j < n && !sb->error; j++)
			restart_irq(d, vm, sb);
	}
}

static void restart_sessions(struct ioregiond *d, struct statebuf *sb)
{
	uint32_t n = statebuf_get_u32(sb), i;

	for (i = 0; i < n && !sb->error; i++) {
		uint64_t id = statebuf_get_u64(sb);
		bool greeted = statebuf_get_u8(sb);
		bool subscribed = statebuf_get_u8(sb);
		uint32_t strikes = statebuf_get_u32(sb);
		char *client = restart_get_str(sb), *vm = restart_get_str(sb);
		char name[64];
		struct session *s = NULL;
		int fd;

		snprintf(name, sizeof(name), FDSTORE_PREFIX "session-%llu",
			 (unsigned long long)id);
		fd = sb->error ? -1 : fdstore_claim(&d->fdstore, name);
		if (fd >= 0 && !(s = session_adopt(d, fd, id, greeted)))
			close(fd);
		if (s) {
			s->subscribed = subscribed;
			s->strikes = strikes;
			/* The access rules may have changed with the config. */
			s->admin = greeted && access_is_admin(d, &s->peer);
			snprintf(s->client_name, sizeof(s->client_name), "%s",
				 client);
			snprintf(s->vm_name, sizeof(s->vm_name), "%s", vm);
		}
		free(client);
		free(vm);
	}
}

/* The incoming connections (a record from before them has none). */
static void restart_incoming(struct ioregiond *d, struct statebuf *sb)
{
	uint32_t n, i;
	uint64_t id;
	struct session *s;

	if (sb->len == sb->cap)
		return;
	n = statebuf_get_u32(sb);
	for (i = 0; i < n && !sb->error; i++) {
		id = statebuf_get_u64(sb);
		TAILQ_FOREACH(s, &d->sessions, link)
			if (!sb->error && s->id == id && s->vm_name[0])
				s->incoming = true;
	}
}

/* The record's ids and counters, the plugged regions, the config's
 * regions, then what served them. */
static int restart_from_record(struct ioregiond *d, struct statebuf *sb,
			       struct config *cfg, struct config_errors *errs)
{
	struct restart_region *rs;
	uint32_t nrs, i;
	int rc;

	d->next_session_id = statebuf_get_u64(sb);
	d->next_user_data = statebuf_get_u64(sb);
	d->next_store_id = statebuf_get_u64(sb);
	restart_get_counters(sb, (uint64_t *)&d->counters,
			     RESTART_DAEMON_COUNTERS);
	rs = restart_get_regions(sb, &nrs);
	if (!sb->error)
		restart_plug(d, rs, nrs);
	rc = regionset_apply(d, cfg, errs);
	if (rc < 0) {
		restart_regions_free(rs, nrs);
		return rc;
	}
	for (i = 0; i < nrs && !sb->error; i++)
		restart_region(d, &rs[i]);
	if (!sb->error)
		restart_vms(d, sb, rs, nrs);
	if (!sb->error)
		restart_sessions(d, sb);
	if (!sb->error)
		restart_incoming(d, sb);
	restart_regions_free(rs, nrs);
	if (sb->error) {
		ioregiond_count(d, state_errors);
		log_err("saved daemon state: the record is cut short or corrupt; what it did not cover starts fresh");
	}
	d->counters.restarts++;
	return 0;
}

int restart_apply(struct ioregiond *d, struct config *cfg,
		  struct config_errors *errs)
{
	struct statebuf sb;
	int rc, n;

	n = fdstore_init(&d->fdstore);
	if (n < 0)
		log_warn("cannot take the fds systemd passed: %s", strerror(-n));
	if (restart_open_record(d, &sb) == 0) {
		rc = restart_from_record(d, &sb, cfg, errs);
		if (rc == 0)
			log_info("restarted: %u clients and their regions taken back from the fd store",
				 d->nsessions);
	} else {
		rc = regionset_apply(d, cfg, errs);
	}
	if (rc < 0 || !d->fdstore.enabled)
		return rc;
	if (!d->state) {
		d->state = calloc(1, sizeof(*d->state));
		if (!d->state || stateslot_create(d->state, "ioregiond-state",
						  RESTART_STATE_MAX, 0) < 0) {
			log_err("no state memfd: a restart will start fresh");
			free(d->state);
			d->state = NULL;
			return 0;
		}
		fdstore_add(&d->fdstore, d->state->fd, FDSTORE_PREFIX "state");
	}
	d->save_job.run = restart_on_save;
	restart_save(d);
	return 0;
}

void restart_keep(struct ioregiond *d)
{
	struct region *r;

	if (!d->state)
		return;
	TAILQ_FOREACH(r, &d->regions, link)
		region_save(r);
	restart_save(d);
	d->fdstore.keeping = true;
	log_info("state saved; its fds stay in systemd's fd store for the next start");
}

void restart_free(struct ioregiond *d)
{
	workers_cancel(d, &d->save_job);
	d->save_job.run = NULL;
	if (d->state) {
		stateslot_close(d->state);
		free(d->state);
		d->state = NULL;
	}
	fdstore_free(&d->fdstore);
}
