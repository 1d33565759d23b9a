/* SPDX-License-Identifier: MIT */
/*
 * The swtpm processes behind a tpm-tis region: see tpm_backend.h.
 */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <jansson.h>

#include "log.h"
#include "region.h"
#include "swtpm.h"
#include "tpm_backend.h"

/* Commands one VM may have waiting: the model has one in flight, plus
 * those a guest's aborts left behind. */
#define TPM_BACKEND_QUEUE_MAX 4
/* Seconds between attempts to start an swtpm that keeps failing. */
#define TPM_BACKEND_BACKOFF_MAX 30
#define TPM_BACKEND_STATE_VERSION 1
#define TPM_RC_FAILURE 0x101

/* The two blobs that make a TPM: what survives power-off, and PCRs and
 * sessions of the current power cycle. */
enum { TPM_BLOB_PERMANENT, TPM_BLOB_VOLATILE };
static const uint32_t tpm_blob_type[TPM_BACKEND_BLOBS] = {
	SWTPM_BLOB_PERMANENT, SWTPM_BLOB_VOLATILE,
};

struct tpm_cmd {
	TAILQ_ENTRY(tpm_cmd) link;
	bool stale;			/* from before a power-on: not run */
	unsigned int locality;
	size_t len;
	uint8_t buf[SWTPM_BUF_MAX];
};

struct tpm_vm {
	struct tpm_backend *b;
	unsigned int requester;
	char dir[PATH_MAX];
	const char *ctrl_path;		/* the user's swtpm, or NULL */
	struct swtpm t;
	bool up;
	bool busy;			/* the queue's head was sent */
	bool init_pending;		/* TPM_Init before the next command */
	int locality;			/* swtpm's, -1 when unknown */
	TAILQ_HEAD(, tpm_cmd) queue;
	unsigned int nqueued;
	uint8_t resp[SWTPM_BUF_MAX];
	size_t resp_len;
	struct event *data_ev, *ctrl_ev, *start_ev;
	unsigned int backoff;		/* seconds */
	uint8_t *blob[TPM_BACKEND_BLOBS];
	size_t blob_len[TPM_BACKEND_BLOBS];
	uint64_t commands, restarts, start_failures, queue_full;
	struct log_ratelimit ratelimit;
};

struct tpm_backend {
	struct region *r;
	char *binary;
	unsigned int n;
	struct tpm_vm vms[];
};

static void tpm_vm_kick(struct tpm_vm *vm);
static void tpm_vm_data_cb(evutil_socket_t fd, short what, void *arg);
static void tpm_vm_ctrl_cb(evutil_socket_t fd, short what, void *arg);

/* Starts the swtpm or sends the next command from the event loop, unless
 * a start is already due (a restart's backoff stays). */
static void tpm_vm_schedule(struct tpm_vm *vm)
{
	struct timeval now = { 0, 0 };

	if (!evtimer_pending(vm->start_ev, NULL))
		evtimer_add(vm->start_ev, &now);
}

static const char *tpm_vm_name(const struct tpm_vm *vm)
{
	return vm->b->r->cfg.vms[vm->requester];
}

static void tpm_vm_log(struct tpm_vm *vm, int level, const char *what,
		       int err)
{
	log_limited(&vm->ratelimit, level, "region %s: vm %s: swtpm: %s: %s",
		    vm->b->r->cfg.name, tpm_vm_name(vm), what, strerror(-err));
}

static void tpm_vm_drop_blob(struct tpm_vm *vm, unsigned int which)
{
	free(vm->blob[which]);
	vm->blob[which] = NULL;
	vm->blob_len[which] = 0;
}

/* Tears a dead or stuck swtpm down and schedules a new one; the command
 * it had not answered stays first in the queue and is sent again. */
/* Starts the swtpm again once the current backoff has passed, and
 * doubles the next one (up to TPM_BACKEND_BACKOFF_MAX). */
static void tpm_vm_retry(struct tpm_vm *vm)
{
	struct timeval tv = { (time_t)vm->backoff, 0 };

	vm->backoff = vm->backoff ? vm->backoff * 2 : 1;
	if (vm->backoff > TPM_BACKEND_BACKOFF_MAX)
		vm->backoff = TPM_BACKEND_BACKOFF_MAX;
	evtimer_add(vm->start_ev, &tv);
}

static void tpm_vm_down(struct tpm_vm *vm, const char *what, int err)
{
	tpm_vm_log(vm, LOG_WARNING, what, err);
	event_del(vm->data_ev);
	event_del(vm->ctrl_ev);
	swtpm_kill(&vm->t);
	vm->up = false;
	vm->busy = false;
	vm->restarts++;
	tpm_vm_retry(vm);
}

static int tpm_mkdirs(char *path)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Our own swtpm: the saved blobs (if any) go in before TPM_Init; after
 * a power-on only the permanent one does. */
static int tpm_vm_start_own(struct tpm_vm *vm)
{
	int rc = tpm_mkdirs(vm->dir);
	uint32_t flags = 0;
	unsigned int i;

	if (rc == 0)
		rc = swtpm_spawn(&vm->t, vm->b->binary, vm->dir);
	if (vm->init_pending)
		tpm_vm_drop_blob(vm, TPM_BLOB_VOLATILE);
	for (i = 0; rc == 0 && i < TPM_BACKEND_BLOBS; i++)
		if (vm->blob[i])
			rc = swtpm_set_blob(&vm->t, tpm_blob_type[i],
					    vm->blob[i], vm->blob_len[i]);
	if (vm->blob[TPM_BLOB_VOLATILE])
		flags = SWTPM_INIT_DELETE_VOLATILE;
	if (rc == 0)
		rc = swtpm_init(&vm->t, flags);
	if (rc == 0)
		vm->init_pending = false;
	return rc;
}

/* The user's swtpm keeps its own state: it only gets TPM_Init when the
 * VM powers on (tpm_vm_kick). */
static int tpm_vm_start(struct tpm_vm *vm)
{
	int rc;

	rc = vm->ctrl_path ? swtpm_connect(&vm->t, vm->ctrl_path) :
			     tpm_vm_start_own(vm);
	if (rc < 0) {
		swtpm_kill(&vm->t);
		return rc;
	}
	event_assign(vm->data_ev, vm->b->r->d->base, vm->t.data_fd,
		     EV_READ | EV_PERSIST, tpm_vm_data_cb, vm);
	event_assign(vm->ctrl_ev, vm->b->r->d->base, vm->t.ctrl_fd,
		     EV_READ | EV_PERSIST, tpm_vm_ctrl_cb, vm);
	event_add(vm->data_ev, NULL);
	event_add(vm->ctrl_ev, NULL);
	vm->up = true;
	vm->locality = -1;
	return 0;
}

static void tpm_vm_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tpm_vm *vm = arg;
	int rc;

	(void)fd;
	(void)what;
	rc = tpm_vm_start(vm);
	if (rc < 0) {
		vm->start_failures++;
		tpm_vm_log(vm, LOG_ERR, "cannot start", rc);
		/* A start that failed waits at least a second. */
		if (!vm->backoff)
			vm->backoff = 1;
		tpm_vm_retry(vm);
		return;
	}
	tpm_vm_kick(vm);
}

/* Both blobs as of the answer just read, before the guest can see it. */
static int tpm_vm_fetch_blobs(struct tpm_vm *vm)
{
	uint8_t *blob;
	unsigned int i;
	size_t len;
	int rc;

	for (i = 0; i < TPM_BACKEND_BLOBS; i++) {
		rc = swtpm_get_blob(&vm->t, tpm_blob_type[i], &blob, &len);
		if (rc < 0)
			return rc;
		tpm_vm_drop_blob(vm, i);
		vm->blob[i] = blob;
		vm->blob_len[i] = len;
	}
	return 0;
}

static void tpm_vm_answer(struct tpm_vm *vm, const uint8_t *resp,
			  size_t len)
{
	struct device *dev = vm->b->r->dev;
	struct tpm_cmd *c = TAILQ_FIRST(&vm->queue);

	TAILQ_REMOVE(&vm->queue, c, link);
	vm->nqueued--;
	free(c);
	dev->ops->complete(dev, vm->requester, resp, len);
}

static void tpm_vm_response_done(struct tpm_vm *vm)
{
	int rc = tpm_vm_fetch_blobs(vm);

	if (rc < 0) {
		tpm_vm_down(vm, "cannot read its state", rc);
		return;
	}
	vm->busy = false;
	vm->commands++;
	vm->backoff = 0;
	tpm_vm_answer(vm, vm->resp, vm->resp_len);
	/* The answer and the state it left commit together. */
	region_save(vm->b->r);
	tpm_vm_kick(vm);
}

static void tpm_vm_data_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tpm_vm *vm = arg;
	size_t want = vm->resp_len < SWTPM_HDR_LEN ?
		      SWTPM_HDR_LEN : swtpm_hdr_size(vm->resp);
	ssize_t n;

	(void)what;
	if (!vm->busy || want > sizeof(vm->resp) || want < SWTPM_HDR_LEN) {
		n = recv(fd, vm->resp, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n >= 0 || errno != EAGAIN)
			tpm_vm_down(vm, "data channel", n == 0 ? -EPIPE :
				    n > 0 ? -EPROTO : -errno);
		return;
	}
	n = recv(fd, vm->resp + vm->resp_len, want - vm->resp_len,
		 MSG_DONTWAIT);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		tpm_vm_down(vm, "data channel", n == 0 ? -EPIPE : -errno);
		return;
	}
	vm->resp_len += (size_t)n;
	if (vm->resp_len >= SWTPM_HDR_LEN &&
	    vm->resp_len == swtpm_hdr_size(vm->resp))
		tpm_vm_response_done(vm);
}

/* Nothing is owed on the control channel between requests: a readable
 * one is an swtpm that exited (EOF) or went astray. */
static void tpm_vm_ctrl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tpm_vm *vm = arg;
	uint8_t b;
	ssize_t n;

	(void)what;
	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	tpm_vm_down(vm, "control channel", n == 0 ? -EPIPE :
		    n > 0 ? -EPROTO : -errno);
}

/* Answers the stale commands at the head of the queue without running
 * them, with TPM_RC_FAILURE (the model drops them): every command is
 * answered, in order. */
static void tpm_vm_answer_stale(struct tpm_vm *vm)
{
	uint8_t resp[SWTPM_HDR_LEN];
	struct tpm_cmd *c;

	swtpm_error_response(resp, TPM_RC_FAILURE);
	while ((c = TAILQ_FIRST(&vm->queue)) && c->stale)
		tpm_vm_answer(vm, resp, sizeof(resp));
}

static int tpm_vm_power_cycle(struct tpm_vm *vm)
{
	int rc = swtpm_init(&vm->t, 0);

	if (rc == 0) {
		vm->init_pending = false;
		vm->locality = -1;
		tpm_vm_drop_blob(vm, TPM_BLOB_VOLATILE);
	}
	return rc;
}

/* Sends the next command once the swtpm is up and idle. */
static void tpm_vm_kick(struct tpm_vm *vm)
{
	struct tpm_cmd *c;
	int rc = 0;

	if (!vm->up) {
		tpm_vm_schedule(vm);
		return;
	}
	if (vm->busy)
		return;
	tpm_vm_answer_stale(vm);
	c = TAILQ_FIRST(&vm->queue);
	if (vm->init_pending)
		rc = tpm_vm_power_cycle(vm);
	if (rc < 0 || !c) {
		if (rc < 0)
			tpm_vm_down(vm, "TPM_Init", rc);
		return;
	}
	if ((int)c->locality != vm->locality) {
		rc = swtpm_set_locality(&vm->t, c->locality);
		if (rc < 0) {
			tpm_vm_down(vm, "set locality", rc);
			return;
		}
		vm->locality = (int)c->locality;
	}
	rc = swtpm_send(&vm->t, c->buf, c->len);
	if (rc < 0) {
		tpm_vm_down(vm, "sending a command", rc);
		return;
	}
	vm->busy = true;
	vm->resp_len = 0;
}

int tpm_backend_submit(void *ctx, unsigned int requester,
		       unsigned int locality, const uint8_t *cmd, size_t len)
{
	struct region *r = ctx;
	struct tpm_vm *vm;
	struct tpm_cmd *c;

	if (!r->tpm || requester >= r->tpm->n || len > SWTPM_BUF_MAX)
		return -1;
	vm = &r->tpm->vms[requester];
	if (vm->nqueued >= TPM_BACKEND_QUEUE_MAX) {
		vm->queue_full++;
		return -1;
	}
	c = malloc(sizeof(*c));
	if (!c)
		return -1;
	c->stale = false;
	c->locality = locality;
	c->len = len;
	memcpy(c->buf, cmd, len);
	TAILQ_INSERT_TAIL(&vm->queue, c, link);
	vm->nqueued++;
	/* Never answer from inside submit: the start event does it. */
	if (!vm->busy)
		tpm_vm_schedule(vm);
	return 0;
}

void tpm_backend_power_on(struct tpm_backend *b, unsigned int requester)
{
	struct tpm_cmd *c;
	struct tpm_vm *vm;

	if (!b || requester >= b->n)
		return;
	vm = &b->vms[requester];
	vm->init_pending = true;
	tpm_vm_drop_blob(vm, TPM_BLOB_VOLATILE);
	/* What the VM queued before powering on is answered, not run; the
	 * one swtpm is running goes first (answers keep their order). */
	TAILQ_FOREACH(c, &vm->queue, link)
		if (c != TAILQ_FIRST(&vm->queue) || !vm->busy)
			c->stale = true;
	if (vm->up)
		tpm_vm_schedule(vm);
}

static void tpm_vm_start_or_kick_cb(evutil_socket_t fd, short what,
				    void *arg)
{
	struct tpm_vm *vm = arg;

	if (vm->up)
		tpm_vm_kick(vm);
	else
		tpm_vm_start_cb(fd, what, arg);
}

static const char *tpm_backend_state_root(void)
{
	const char *dir = getenv("STATE_DIRECTORY");

	/* systemd may list several: the first is ours. */
	if (dir && *dir && !strchr(dir, ':'))
		return dir;
	return NULL;
}

static int tpm_backend_paths(struct tpm_backend *b, const json_t *opts,
			     struct config_errors *errs)
{
	const json_t *sd = opts ? json_object_get(opts, "state_dir") : NULL;
	const json_t *ctrl = opts ? json_object_get(opts, "ctrl_sockets") : NULL;
	const char *root = tpm_backend_state_root(), *name = b->r->cfg.name;
	const char *key;
	json_t *v;
	unsigned int i;

	if (sd && !json_is_string(sd)) {
		config_errors_add(errs, "region %s: options.state_dir: not a string", name);
		return -1;
	}
	if (ctrl && !json_is_object(ctrl)) {
		config_errors_add(errs, "region %s: options.ctrl_sockets: not an object", name);
		return -1;
	}
	json_object_foreach((json_t *)ctrl, key, v) {
		int req = config_region_vm_index(&b->r->cfg, key);

		if (req < 0 || !json_is_string(v)) {
			config_errors_add(errs, "region %s: options.ctrl_sockets.%s: %s",
					  name, key, req < 0 ?
					  "not a VM of the region" : "not a path");
			return -1;
		}
		b->vms[req].ctrl_path = json_string_value(v);
	}
	for (i = 0; i < b->n; i++) {
		const char *vm = b->r->cfg.vms[i];
		int n;

		if (name[0] == '.' || vm[0] == '.') {
			config_errors_add(errs, "region %s: a TPM's region and VM names may not start with '.' (they name its state directory)", name);
			return -1;
		}
		if (sd)
			n = snprintf(b->vms[i].dir, sizeof(b->vms[i].dir), "%s/%s/%s",
				     json_string_value(sd), name, vm);
		else
			n = snprintf(b->vms[i].dir, sizeof(b->vms[i].dir), "%s/tpm/%s/%s",
				     root ? root : "/var/lib/ioregiond", name, vm);
		if (n < 0 || (size_t)n >= sizeof(b->vms[i].dir)) {
			config_errors_add(errs, "region %s: options.state_dir: too long", name);
			return -1;
		}
	}
	return 0;
}

static int tpm_vm_init(struct tpm_vm *vm, struct tpm_backend *b,
		       unsigned int requester)
{
	struct event_base *base = b->r->d->base;

	vm->b = b;
	vm->requester = requester;
	vm->t.ctrl_fd = vm->t.data_fd = -1;
	vm->locality = -1;
	TAILQ_INIT(&vm->queue);
	vm->data_ev = event_new(base, -1, 0, tpm_vm_data_cb, vm);
	vm->ctrl_ev = event_new(base, -1, 0, tpm_vm_ctrl_cb, vm);
	vm->start_ev = evtimer_new(base, tpm_vm_start_or_kick_cb, vm);
	return vm->data_ev && vm->ctrl_ev && vm->start_ev ? 0 : -1;
}

/* The commands waiting for the swtpm, dropped unanswered. */
static void tpm_vm_drop_queue(struct tpm_vm *vm)
{
	struct tpm_cmd *c;

	while ((c = TAILQ_FIRST(&vm->queue))) {
		TAILQ_REMOVE(&vm->queue, c, link);
		free(c);
	}
	vm->nqueued = 0;
}

static void tpm_vm_fini(struct tpm_vm *vm)
{
	unsigned int i;

	if (vm->data_ev)
		event_free(vm->data_ev);
	if (vm->ctrl_ev)
		event_free(vm->ctrl_ev);
	if (vm->start_ev)
		event_free(vm->start_ev);
	if (vm->up)
		swtpm_close(&vm->t);
	tpm_vm_drop_queue(vm);
	for (i = 0; i < TPM_BACKEND_BLOBS; i++)
		tpm_vm_drop_blob(vm, i);
}

struct tpm_backend *tpm_backend_new(struct region *r,
				    struct config_errors *errs)
{
	const json_t *opts = r->cfg.options;
	const json_t *bin = opts ? json_object_get(opts, "swtpm") : NULL;
	struct tpm_backend *b;
	unsigned int i;

	if (bin && !json_is_string(bin)) {
		config_errors_add(errs, "region %s: options.swtpm: not a path",
				  r->cfg.name);
		return NULL;
	}

	b = calloc(1, sizeof(*b) + r->cfg.nvms * sizeof(b->vms[0]));
	if (!b)
		goto oom;
	b->r = r;
	b->n = r->cfg.nvms;
	b->binary = strdup(bin ? json_string_value(bin) : "swtpm");
	if (!b->binary)
		goto oom;
	for (i = 0; i < b->n; i++)
		if (tpm_vm_init(&b->vms[i], b, i) < 0)
			goto oom;
	if (tpm_backend_paths(b, opts, errs) < 0) {
		tpm_backend_free(b);
		return NULL;
	}
	return b;
oom:
	config_errors_add(errs, "region %s: out of memory", r->cfg.name);
	tpm_backend_free(b);
	return NULL;
}

void tpm_backend_free(struct tpm_backend *b)
{
	unsigned int i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++)
		tpm_vm_fini(&b->vms[i]);
	free(b->binary);
	free(b);
}

/* One VM's TPM: u8 init_pending, then per blob u32 length + bytes
 * (length 0: none). The fd store's save and a VM state file share it. */
static void tpm_vm_save(const struct tpm_vm *vm, struct statebuf *sb)
{
	unsigned int j;

	statebuf_put_u8(sb, vm->init_pending);
	for (j = 0; j < TPM_BACKEND_BLOBS; j++) {
		statebuf_put_u32(sb, (uint32_t)vm->blob_len[j]);
		statebuf_put_bytes(sb, vm->blob[j], vm->blob_len[j]);
	}
}

void tpm_backend_vm_state_free(struct tpm_backend_vm_state *st)
{
	unsigned int j;

	for (j = 0; j < TPM_BACKEND_BLOBS; j++) {
		free(st->blob[j]);
		st->blob[j] = NULL;
		st->blob_len[j] = 0;
	}
}

static int tpm_vm_parse(struct statebuf *sb, struct tpm_backend_vm_state *st)
{
	unsigned int j;
	uint32_t len;

	memset(st, 0, sizeof(*st));
	st->init_pending = statebuf_get_u8(sb) != 0;
	for (j = 0; j < TPM_BACKEND_BLOBS; j++) {
		len = statebuf_get_u32(sb);
		if (sb->error || len == 0)
			continue;
		if (len > sb->cap - sb->len)
			goto bad;
		st->blob[j] = malloc(len);
		if (!st->blob[j])
			goto bad;
		statebuf_get_bytes(sb, st->blob[j], len);
		st->blob_len[j] = len;
	}
	if (!sb->error)
		return 0;
bad:
	tpm_backend_vm_state_free(st);
	return -1;
}

/* Takes st's blobs: the swtpm loads them when it next starts. */
static void tpm_vm_take(struct tpm_vm *vm, struct tpm_backend_vm_state *st)
{
	unsigned int j;

	vm->init_pending = st->init_pending;
	for (j = 0; j < TPM_BACKEND_BLOBS; j++) {
		tpm_vm_drop_blob(vm, j);
		vm->blob[j] = st->blob[j];
		vm->blob_len[j] = st->blob_len[j];
		st->blob[j] = NULL;
		st->blob_len[j] = 0;
	}
}

/* Format 1: u32 version, u32 VMs, then each VM's TPM (tpm_vm_save). */
void tpm_backend_save(struct tpm_backend *b, struct statebuf *sb)
{
	unsigned int i;

	statebuf_put_u32(sb, TPM_BACKEND_STATE_VERSION);
	statebuf_put_u32(sb, b->n);
	for (i = 0; i < b->n; i++)
		tpm_vm_save(&b->vms[i], sb);
}

int tpm_backend_restore(struct tpm_backend *b, struct statebuf *sb)
{
	struct tpm_backend_vm_state st;
	unsigned int i;

	if (statebuf_get_u32(sb) != TPM_BACKEND_STATE_VERSION ||
	    statebuf_get_u32(sb) != b->n)
		return -1;
	for (i = 0; i < b->n; i++) {
		if (tpm_vm_parse(sb, &st) < 0)
			return -1;
		tpm_vm_take(&b->vms[i], &st);
	}
	return 0;
}

bool tpm_backend_is_users(const struct tpm_backend *b, unsigned int requester)
{
	return requester < b->n && b->vms[requester].ctrl_path;
}

int tpm_backend_save_vm(struct tpm_backend *b, unsigned int requester,
			struct statebuf *sb)
{
	if (tpm_backend_is_users(b, requester))
		return -ENOTSUP;
	statebuf_put_u32(sb, TPM_BACKEND_STATE_VERSION);
	tpm_vm_save(&b->vms[requester], sb);
	return sb->error ? -ENOSPC : 0;
}

int tpm_backend_parse_vm(struct statebuf *sb,
			 struct tpm_backend_vm_state *st)
{
	memset(st, 0, sizeof(*st));
	if (statebuf_get_u32(sb) != TPM_BACKEND_STATE_VERSION)
		return -1;
	if (tpm_vm_parse(sb, st) < 0)
		return -1;
	if (!statebuf_done(sb)) {
		tpm_backend_vm_state_free(st);
		return -1;
	}
	return 0;
}

/* The swtpm of the state being replaced goes at once, with the commands
 * it had queued: the model's state comes next, and resubmits the command
 * it was executing. */
static void tpm_vm_stop(struct tpm_vm *vm)
{
	event_del(vm->data_ev);
	event_del(vm->ctrl_ev);
	evtimer_del(vm->start_ev);
	if (vm->up)
		swtpm_kill(&vm->t);
	vm->up = false;
	vm->busy = false;
	vm->backoff = 0;
	vm->locality = -1;
	tpm_vm_drop_queue(vm);
}

void tpm_backend_load_vm(struct tpm_backend *b, unsigned int requester,
			 struct tpm_backend_vm_state *st)
{
	struct tpm_vm *vm = &b->vms[requester];

	tpm_vm_stop(vm);
	tpm_vm_take(vm, st);
}

void tpm_backend_stats(struct tpm_backend *b, device_stat_fn *emit,
		       void *ctx)
{
	uint64_t up = 0, cmds = 0, restarts = 0, fails = 0, full = 0;
	unsigned int i;

	for (i = 0; i < b->n; i++) {
		up += b->vms[i].up;
		cmds += b->vms[i].commands;
		restarts += b->vms[i].restarts;
		fails += b->vms[i].start_failures;
		full += b->vms[i].queue_full;
	}
	emit(ctx, "swtpm_running", up);
	emit(ctx, "swtpm_commands", cmds);
	emit(ctx, "swtpm_restarts", restarts);
	emit(ctx, "swtpm_start_failures", fails);
	emit(ctx, "swtpm_queue_full", full);
}
