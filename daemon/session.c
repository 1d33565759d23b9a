/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "channel.h"
#include "fdstore.h"
#include "irq.h"
#include "region.h"
#include "regionset.h"
#include "session.h"
#include "stats.h"
#include "vm.h"
#include "vmstate.h"

static void session_on_read(evutil_socket_t fd, short what, void *arg);
static void session_on_write(evutil_socket_t fd, short what, void *arg);
static void session_drop(struct session *s, const char *why);
static void session_run_stash(struct worker_job *job);

/* Longest Error message sent; longer ones are cut at a line. */
#define SESSION_ERROR_MAX (IOR_CONTROL_MAX_PACKET - 1024)

/* The session no longer waits for hello (greeted or closing). */
static void session_unpend(struct session *s)
{
	if (s->greeted || s->closing)
		return;
	s->d->npending--;
	event_del(s->ev_hello);
}

/* No pause (worker.h): a session without hello opened nothing. */
static void session_on_hello_timeout(evutil_socket_t fd, short what,
				     void *arg)
{
	struct session *s = arg;

	s->d->counters.sessions_timed_out++;
	session_drop(s, "no hello in time");
}

void session_evict_pending(struct ioregiond *d)
{
	struct session *s;

	TAILQ_FOREACH(s, &d->sessions, link) {
		if (!s->greeted && !s->closing) {
			d->counters.sessions_evicted++;
			session_drop(s, "evicted: too many connections without hello");
			return;
		}
	}
}

/* A session on fd with its events, not yet counted or listed. */
static struct session *session_setup(struct ioregiond *d, int fd)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->d = d;
	s->fd = fd;
	s->stash_fd = -1;
	s->job.run = session_run_stash;
	STAILQ_INIT(&s->queue);
	if (access_read_peer(fd, &s->peer) < 0)
		goto fail;
	s->ev_read = event_new(d->base, fd, EV_READ | EV_PERSIST,
			       session_on_read, s);
	s->ev_write = event_new(d->base, fd, EV_WRITE, session_on_write, s);
	s->ev_hello = evtimer_new(d->base, session_on_hello_timeout, s);
	if (!s->ev_read || !s->ev_write || !s->ev_hello ||
	    event_add(s->ev_read, NULL) < 0)
		goto fail;
	return s;
fail:
	if (s->ev_read)
		event_free(s->ev_read);
	if (s->ev_write)
		event_free(s->ev_write);
	if (s->ev_hello)
		event_free(s->ev_hello);
	access_peer_clear(&s->peer);
	free(s);
	return NULL;
}

/* Lists s; one not greeted yet waits for its hello at most the configured
 * time. */
static int session_list_add(struct session *s)
{
	struct ioregiond *d = s->d;
	struct timeval timeout = {
		.tv_sec = d->config->hello_timeout_ms / 1000,
		.tv_usec = d->config->hello_timeout_ms % 1000 * 1000,
	};

	if (!s->greeted && event_add(s->ev_hello, &timeout) < 0)
		return -ENOMEM;
	TAILQ_INSERT_TAIL(&d->sessions, s, link);
	d->nsessions++;
	d->npending += !s->greeted;
	ioregiond_status_changed(d);
	ioregiond_state_changed(d);
	return 0;
}

static void session_discard(struct session *s)
{
	event_free(s->ev_read);
	event_free(s->ev_write);
	event_free(s->ev_hello);
	access_peer_clear(&s->peer);
	free(s);
}

int session_new(struct ioregiond *d, int fd)
{
	struct session *s = session_setup(d, fd);

	if (!s || session_list_add(s) < 0) {
		if (s)
			session_discard(s);
		close(fd);
		return -ENOMEM;
	}
	s->id = ++d->next_session_id;
	d->counters.sessions_accepted++;
	fdstore_add(&d->fdstore, fd, FDSTORE_PREFIX "session-%llu",
		    (unsigned long long)s->id);
	log_debug("client pid %d uid %u connected", (int)s->peer.pid,
		  (unsigned int)s->peer.uid);
	return 0;
}

struct session *session_adopt(struct ioregiond *d, int fd, uint64_t id,
			      bool greeted)
{
	struct session *s = session_setup(d, fd);

	if (!s)
		return NULL;
	s->id = id;
	s->greeted = greeted;
	if (session_list_add(s) < 0) {
		session_discard(s);
		return NULL;
	}
	return s;
}

/* A request deferred and never run. */
static void session_unstash(struct session *s)
{
	if (!s->stash)
		return;
	workers_cancel(s->d, &s->job);
	if (s->stash_fd >= 0)
		close(s->stash_fd);
	ior__client_message__free_unpacked(s->stash, NULL);
	s->stash = NULL;
	s->stash_fd = -1;
}

void session_free(struct session *s)
{
	struct session_packet *p;

	session_unstash(s);
	while ((p = STAILQ_FIRST(&s->queue))) {
		STAILQ_REMOVE_HEAD(&s->queue, link);
		if (p->fd >= 0)
			close(p->fd);
		free(p);
	}
	TAILQ_REMOVE(&s->d->sessions, s, link);
	s->d->nsessions--;
	ioregiond_status_changed(s->d);
	ioregiond_state_changed(s->d);
	session_unpend(s);
	fdstore_remove(&s->d->fdstore, FDSTORE_PREFIX "session-%llu",
		       (unsigned long long)s->id);
	close(s->fd);
	session_discard(s);
}

void session_free_all(struct ioregiond *d)
{
	struct session *s;

	while ((s = TAILQ_FIRST(&d->sessions)))
		session_free(s);
}

/* Frees the session from its own write event, so that callers iterating
 * over sessions never see one vanish under them. */
static void session_drop(struct session *s, const char *why)
{
	struct vm *vm;
	struct channel *ch;

	/* A VMM gone while its VM was stopped and not taken over: its
	 * channels are read again, so their end is noticed. Workers pause
	 * only for that. */
	TAILQ_FOREACH(vm, &s->d->vms, link)
		TAILQ_FOREACH(ch, &vm->channels, vm_link)
			if (ch->stopped && ch->opener == s->id) {
				workers_hold(s->d);
				channel_cont(ch);
				workers_release(s->d);
			}
	if (!s->closing)
		log_info("client %s (pid %d): disconnected: %s",
			 s->client_name[0] ? s->client_name : "?",
			 (int)s->peer.pid, why);
	session_unpend(s);
	s->closing = true;
	event_del(s->ev_read);
	event_active(s->ev_write, EV_WRITE, 0);
}

static int session_flush(struct session *s)
{
	struct session_packet *p;
	int rc;

	while ((p = STAILQ_FIRST(&s->queue))) {
		rc = control_send_packed(s->fd, p->buf, p->len, p->fd);
		if (rc == -EAGAIN) {
			event_add(s->ev_write, NULL);
			return 0;
		}
		STAILQ_REMOVE_HEAD(&s->queue, link);
		s->queued--;
		if (p->fd >= 0)
			close(p->fd);
		free(p);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Queues a message; fd, if any, is closed once sent. */
static void session_reply_error(struct session *s, uint32_t id, int code,
				const char *message);

static void session_send(struct session *s, Ior__ServerMessage *msg, int fd)
{
	size_t len = ior__server_message__get_packed_size(msg);
	struct session_packet *p;
	int rc;

	if (len > IOR_CONTROL_MAX_PACKET && !s->closing) {
		if (fd >= 0)
			close(fd);
		log_warn("client %s: a %zu-byte reply does not fit a packet",
			 s->client_name, len);
		session_reply_error(s, msg->id, EMSGSIZE,
				    "the reply is larger than a control packet (64 KiB)");
		return;
	}
	if (s->closing || s->queued >= SESSION_MAX_QUEUED ||
	    !(p = malloc(sizeof(*p) + len))) {
		if (fd >= 0)
			close(fd);
		if (!s->closing) {
			s->d->counters.control_disconnects++;
			session_drop(s, "reply queue full or reply too large");
		}
		return;
	}
	p->fd = fd;
	p->len = ior__server_message__pack(msg, p->buf);
	STAILQ_INSERT_TAIL(&s->queue, p, link);
	s->queued++;
	rc = session_flush(s);
	if (rc < 0)
		session_drop(s, strerror(-rc));
}

/* Cuts a message that would not fit a packet after its last whole line
 * below the limit, and says how much is missing. */
static char *session_error_text(const char *message)
{
	size_t len = strlen(message), keep = SESSION_ERROR_MAX;
	char *text;

	if (len <= SESSION_ERROR_MAX)
		return strdup(message);
	while (keep > 0 && message[keep] != '\n')
		keep--;
	if (keep == 0)
		keep = SESSION_ERROR_MAX;
	if (asprintf(&text, "%.*s\n... (%zu more bytes cut)", (int)keep,
		     message, len - keep) < 0)
		return NULL;
	return text;
}

static void session_reply_error(struct session *s, uint32_t id, int code,
				const char *message)
{
	Ior__ServerMessage msg = IOR__SERVER_MESSAGE__INIT;
	Ior__Error err = IOR__ERROR__INIT;
	char *text = session_error_text(message);

	err.code = code;
	err.message = text ? text : (char *)"out of memory";
	msg.id = id;
	msg.body_case = IOR__SERVER_MESSAGE__BODY_ERROR;
	msg.error = &err;
	session_send(s, &msg, -1);
	free(text);
}

static void session_reply_ok(struct session *s, uint32_t id, const char *text)
{
	Ior__ServerMessage msg = IOR__SERVER_MESSAGE__INIT;
	Ior__Ok ok = IOR__OK__INIT;

	ok.message = (char *)text;
	msg.id = id;
	msg.body_case = IOR__SERVER_MESSAGE__BODY_OK;
	msg.ok = &ok;
	session_send(s, &msg, -1);
}

/* A request that breaks the protocol: answered, counted, and held against
 * the client. */
static void session_strike(struct session *s, uint32_t id, int code,
			   const char *why)
{
	s->d->counters.control_errors++;
	s->strikes++;
	log_info("client %s (pid %d): refused request: %s",
		 s->client_name[0] ? s->client_name : "?", (int)s->peer.pid,
		 why);
	session_reply_error(s, id, code, why);
	if (s->strikes >= s->d->config->max_strikes) {
		s->d->counters.control_disconnects++;
		session_drop(s, "too many malformed requests");
	}
}

static void session_refuse(struct session *s, uint32_t id, int code,
			   const char *why)
{
	if (code == EACCES || code == EPERM) {
		s->d->counters.access_denied++;
		log_limited(&s->d->refusals, LOG_WARNING,
			    "client %s (pid %d, uid %u): refused: %s",
			    s->client_name[0] ? s->client_name : "?",
			    (int)s->peer.pid, (unsigned int)s->peer.uid, why);
	}
	s->d->counters.control_errors++;
	session_reply_error(s, id, code, why);
}

/* Attached (greeted) connections of one uid. */
static unsigned int session_count_uid(struct ioregiond *d, uid_t uid)
{
	struct session *s;
	unsigned int n = 0;

	TAILQ_FOREACH(s, &d->sessions, link)
		n += s->greeted && !s->closing && s->peer.uid == uid;
	return n;
}

static void session_hello(struct session *s, uint32_t id, const Ior__Hello *h)
{
	Ior__ServerMessage msg = IOR__SERVER_MESSAGE__INIT;
	Ior__HelloReply reply = IOR__HELLO_REPLY__INIT;
	char why[160];

	if (s->greeted) {
		session_strike(s, id, EALREADY, "hello was already sent");
		return;
	}
	if (h->major != IOR_CONTROL_MAJOR) {
		snprintf(why, sizeof(why),
			 "protocol %u.%u is not supported: this daemon speaks %d.%d",
			 h->major, h->minor, IOR_CONTROL_MAJOR,
			 IOR_CONTROL_MINOR);
		session_refuse(s, id, EPROTONOSUPPORT, why);
		session_drop(s, "protocol major version mismatch");
		return;
	}
	if (!access_may_connect(s->d, &s->peer)) {
		snprintf(why, sizeof(why),
			 "uid %u is not allowed to connect (not in the control socket's group or an access rule)",
			 (unsigned int)s->peer.uid);
		session_refuse(s, id, EACCES, why);
		session_drop(s, "not allowed to connect");
		return;
	}
	if (h->vm_name && h->vm_name[0] &&
	    !access_may_attach(s->d, &s->peer, h->vm_name)) {
		snprintf(why, sizeof(why), "uid %u may not attach as VM \"%s\"",
			 (unsigned int)s->peer.uid, h->vm_name);
		session_refuse(s, id, EACCES, why);
		return;
	}
	if (session_count_uid(s->d, s->peer.uid) >=
	    s->d->config->max_clients_per_uid) {
		snprintf(why, sizeof(why),
			 "uid %u already holds %u connections, its limit",
			 (unsigned int)s->peer.uid,
			 s->d->config->max_clients_per_uid);
		s->d->counters.sessions_refused++;
		session_refuse(s, id, EUSERS, why);
		session_drop(s, why);
		return;
	}
	session_unpend(s);
	s->greeted = true;
	s->admin = access_is_admin(s->d, &s->peer);
	snprintf(s->client_name, sizeof(s->client_name), "%s", h->client_name);
	snprintf(s->vm_name, sizeof(s->vm_name), "%s",
		 h->vm_name ? h->vm_name : "");
	s->incoming = h->has_incoming && h->incoming && s->vm_name[0];
	log_info("client %s (pid %d, uid %u) attached%s%s%s%s",
		 s->client_name, (int)s->peer.pid, (unsigned int)s->peer.uid,
		 s->vm_name[0] ? " as VM " : "", s->vm_name,
		 s->incoming ? " (incoming migration)" : "",
		 s->admin ? " (admin)" : "");
	reply.major = IOR_CONTROL_MAJOR;
	reply.minor = IOR_CONTROL_MINOR;
	reply.daemon_version = (char *)PACKAGE_VERSION;
	reply.capabilities = control_capability_mask();
	reply.admin = s->admin;
	msg.id = id;
	msg.body_case = IOR__SERVER_MESSAGE__BODY_HELLO;
	msg.hello = &reply;
	session_send(s, &msg, -1);
	ioregiond_state_changed(s->d);
}

/* Which VM a request about vm_name concerns: the session's own, or any VM
 * for an admin. NULL: every VM (admins only). Sets *denied on refusal. */
static const char *session_scope(struct session *s, const char *vm_name,
				 bool *denied)
{
	*denied = false;
	if (vm_name && vm_name[0]) {
		if (strcmp(vm_name, s->vm_name) != 0 && !s->admin)
			*denied = true;
		return vm_name;
	}
	if (s->vm_name[0])
		return s->vm_name;
	*denied = !s->admin;
	return NULL;
}

/* Whether session_scope would name a VM for vm_name, refusing nothing. */
static bool session_in_scope(const struct session *s, const char *vm_name)
{
	if (vm_name && vm_name[0])
		return s->admin || strcmp(vm_name, s->vm_name) == 0;
	return s->vm_name[0] != '\0';
}

/* Fills desc with pointers into r; valid while r lives. */
static void session_describe(const struct region *r,
			     Ior__RegionDescriptor *desc)
{
	ior__region_descriptor__init(desc);
	desc->name = r->cfg.name;
	desc->device = r->cfg.device;
	desc->bus = r->cfg.bus == CONFIG_BUS_PIO ? IOR__BUS__BUS_PIO
						 : IOR__BUS__BUS_MMIO;
	desc->address = r->cfg.address;
	desc->size = r->cfg.size;
	desc->flags = r->cfg.posted_writes ? IOR__REGION_FLAG__REGION_POSTED_WRITES
					   : 0;
	desc->user_data = r->user_data;
	desc->n_vms = r->cfg.nvms;
	desc->vms = r->cfg.vms;
	desc->has_irq = r->cfg.has_irq;
	desc->irq = r->cfg.irq;
}

/* Room for region descriptors in one RegionList packet: the rest of the
 * packet is the id, the total and the field headers. */
#define SESSION_LIST_ROOM (IOR_CONTROL_MAX_PACKET - 64)
/* Name, device, bus, address, size, flags, user_data: 7 fields of at
 * least 2 bytes, plus the list entry's own 2. */
#define SESSION_DESC_MIN 16

/* The regions vm may see from offset on, as many as fit one packet; the
 * client pages through the rest with RegionList.total. */
static void session_list(struct session *s, uint32_t id,
			 const Ior__ListRegions *req)
{
	Ior__ServerMessage msg = IOR__SERVER_MESSAGE__INIT;
	Ior__RegionList list = IOR__REGION_LIST__INIT;
	Ior__RegionDescriptor *descs = NULL, **ptrs = NULL;
	struct region *r;
	const char *vm;
	bool denied;
	size_t room = SESSION_LIST_ROOM, total = 0, cap, skip;

	vm = session_scope(s, req->vm_name, &denied);
	if (denied) {
		session_refuse(s, id, EACCES,
			       "only admins list regions of other VMs");
		return;
	}
	TAILQ_FOREACH(r, &s->d->regions, link)
		total += !vm || config_region_has_vm(&r->cfg, vm);
	/* No descriptor packs into fewer than SESSION_DESC_MIN bytes. */
	cap = total > req->offset ? total - req->offset : 0;
	if (cap > SESSION_LIST_ROOM / SESSION_DESC_MIN)
		cap = SESSION_LIST_ROOM / SESSION_DESC_MIN;
	descs = calloc(cap + 1, sizeof(*descs));
	ptrs = calloc(cap + 1, sizeof(*ptrs));
	if (!descs || !ptrs) {
		session_reply_error(s, id, ENOMEM, "out of memory");
		goto out;
	}
	skip = req->offset;
	TAILQ_FOREACH(r, &s->d->regions, link) {
		Ior__RegionDescriptor *d = &descs[list.n_regions];
		size_t cost;

		if (vm && !config_region_has_vm(&r->cfg, vm))
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		session_describe(r, d);
		/* Field tag and length prefix, then the descriptor. */
		cost = 4 + ior__region_descriptor__get_packed_size(d);
		if (cost > room || list.n_regions == cap)
			break;
		room -= cost;
		ptrs[list.n_regions++] = d;
	}
	list.regions = ptrs;
	list.has_total = true;
	list.total = (uint32_t)total;
	msg.id = id;
	msg.body_case = IOR__SERVER_MESSAGE__BODY_REGIONS;
	msg.regions = &list;
	session_send(s, &msg, -1);
out:
	free(descs);
	free(ptrs);
}

static struct session *session_find(struct ioregiond *d, uint64_t id)
{
	struct session *s;

	TAILQ_FOREACH(s, &d->sessions, link)
		if (s->id == id && !s->closing)
			return s;
	return NULL;
}

static void session_open(struct session *s, uint32_t id, const char *name)
{
	Ior__ServerMessage msg = IOR__SERVER_MESSAGE__INIT;
	Ior__OpenReply reply = IOR__OPEN_REPLY__INIT;
	Ior__RegionDescriptor desc;
	struct region *r = regionset_find(s->d, name);
	struct channel *ch;
	struct vm *vm;
	char why[200];
	int peer, rc;

	if (!s->vm_name[0]) {
		session_refuse(s, id, EINVAL, "attach as a VM (hello.vm_name) to open regions");
		return;
	}
	if (!r || !config_region_has_vm(&r->cfg, s->vm_name)) {
		snprintf(why, sizeof(why), "VM \"%s\" has no region \"%s\"",
			 s->vm_name, name);
		session_refuse(s, id, r ? EACCES : ENOENT, why);
		return;
	}
	if (s->incoming) {
		snprintf(why, sizeof(why),
			 "region \"%s\" of VM \"%s\": an incoming VMM opens regions after TakeOver",
			 name, s->vm_name);
		session_refuse(s, id, EBUSY, why);
		return;
	}
	vm = vm_get(s->d, s->vm_name);
	ch = vm ? vm_channel(vm, name) : NULL;
	/* Stopped by a VMM that is gone (saved and quit): nobody will read
	 * it again. */
	if (ch && ch->stopped && !session_find(s->d, ch->opener))
		channel_close(ch, "its VMM left while the VM was stopped");
	rc = ch ? channel_open(ch, r, &peer) : -ENOMEM;
	if (rc < 0) {
		snprintf(why, sizeof(why), "region \"%s\" of VM \"%s\": %s", name,
			 s->vm_name, rc == -EBUSY ? "already open" : strerror(-rc));
		session_refuse(s, id, -rc, why);
		return;
	}
	ch->opener = s->id;
	/* A VM handed over goes on with the same boot: no TPM_Init. */
	if (ch->handed_to != s->id)
		region_power_on(r, ch->requester);
	ch->handed_to = 0;
	ioregiond_state_changed(s->d);
	log_info("vm %s region %s: opened by %s (pid %d)", s->vm_name, name,
		 s->client_name, (int)s->peer.pid);
	session_describe(r, &desc);
	reply.region = &desc;
	msg.id = id;
	msg.body_case = IOR__SERVER_MESSAGE__BODY_OPEN;
	msg.open = &reply;
	session_send(s, &msg, peer);
}

static void session_open_irq(struct session *s, uint32_t id,
			     unsigned int line)
{
	Ior__ServerMessage msg = IOR__SERVER_MESSAGE__INIT;
	Ior__IrqReply reply = IOR__IRQ_REPLY__INIT;
	char why[160];
	int fd, rc;

	if (!s->vm_name[0]) {
		session_refuse(s, id, EINVAL, "attach as a VM (hello.vm_name) to open interrupt lines");
		return;
	}
	/* Opening drains edges the source's guest still has to see. */
	if (s->incoming) {
		session_refuse(s, id, EBUSY,
			       "an incoming VMM opens interrupt lines after TakeOver");
		return;
	}
	rc = irq_open(s->d, s->vm_name, line, &fd);
	if (rc < 0) {
		snprintf(why, sizeof(why), "VM \"%s\" has no interrupt line %u%s%s",
			 s->vm_name, line, rc == -ENOENT ? "" : ": ",
			 rc == -ENOENT ? "" : strerror(-rc));
		session_refuse(s, id, -rc, why);
		return;
	}
	log_info("vm %s irq %u: opened by %s (pid %d)", s->vm_name, line,
		 s->client_name, (int)s->peer.pid);
	reply.line = line;
	msg.id = id;
	msg.body_case = IOR__SERVER_MESSAGE__BODY_IRQ;
	msg.irq = &reply;
	session_send(s, &msg, fd);
}

static void session_close_region(struct session *s, uint32_t id,
				 const char *name)
{
	struct vm *vm = s->vm_name[0] ? vm_find(s->d, s->vm_name) : NULL;
	struct channel *ch = vm ? vm_channel_find(vm, name) : NULL;

	if (!ch || !channel_is_open(ch)) {
		session_refuse(s, id, ENOENT, "no such open region");
		return;
	}
	if (ch->opener != s->id) {
		session_refuse(s, id, EPERM,
			       "the region was opened by another connection");
		return;
	}
	channel_close(ch, "closed by its VMM");
	session_reply_ok(s, id, NULL);
}

static void session_stats(struct session *s, uint32_t id,
			  const Ior__StatsRequest *req)
{
	Ior__ServerMessage msg = IOR__SERVER_MESSAGE__INIT;
	Ior__StatsReply *reply;
	const char *vm;
	bool denied;

	vm = session_scope(s, req->vm_name, &denied);
	if (denied) {
		session_refuse(s, id, EACCES, "only admins see other VMs' stats");
		return;
	}
	reply = stats_build(s->d, vm, req->offset);
	if (!reply) {
		session_reply_error(s, id, ENOMEM, "out of memory");
		return;
	}
	msg.id = id;
	msg.body_case = IOR__SERVER_MESSAGE__BODY_STATS;
	msg.stats = reply;
	session_send(s, &msg, -1);
	stats_free(reply);
}

/* Every region of the VM back to power-on state, as its reboot. */
static void session_reset_vm(struct session *s, uint32_t id,
			     const Ior__ResetVm *req)
{
	struct region *r;
	unsigned int n = 0;
	char done[96];
	const char *vm;
	bool denied;
	int idx;

	vm = session_scope(s, req->vm_name, &denied);
	if (denied || !vm) {
		session_refuse(s, id, denied ? EACCES : EINVAL, denied ?
			       "only admins reset other VMs" :
			       "name the VM to reset (reset_vm.vm_name)");
		return;
	}
	TAILQ_FOREACH(r, &s->d->regions, link) {
		idx = config_region_vm_index(&r->cfg, vm);
		if (idx >= 0) {
			region_reset_vm(r, (unsigned int)idx);
			n++;
		}
	}
	log_info("vm %s: reset by %s: %u regions back to power-on state", vm,
		 s->client_name, n);
	snprintf(done, sizeof(done), "%u regions reset", n);
	session_reply_ok(s, id, done);
}

/* A migration request refused: answered, counted, logged. */
static void session_refuse_state(struct session *s, uint32_t id, int code,
				 const char *what, const char *vm,
				 const char *why)
{
	s->d->counters.vm_states_refused++;
	log_warn("vm %s: %s refused (client %s): %s", vm, what,
		 s->client_name, why);
	session_refuse(s, id, code, why);
}

/* The VM a migration request is about, or NULL once refused. */
static const char *session_state_scope(struct session *s, uint32_t id,
				       const char *what, const char *vm_name)
{
	const char *vm;
	bool denied;

	vm = session_scope(s, vm_name, &denied);
	if (denied || !vm) {
		session_refuse_state(s, id, denied ? EACCES : EINVAL, what,
				     vm_name ? vm_name : "(none)", denied ?
				     "only admins stop, save or load other VMs" :
				     "name the VM (vm_name)");
		return NULL;
	}
	return vm;
}

/* The VMM stopped its vCPUs: what they sent is served, then nothing more
 * is read. */
static void session_stop_vm(struct session *s, uint32_t id,
			    const char *vm_name)
{
	const char *vm = session_state_scope(s, id, "StopVm",
						 vm_name);
	struct vm *v = vm ? vm_find(s->d, vm) : NULL;
	struct channel *ch;
	const char *blocked = NULL;
	unsigned int n = 0, frames = 0;
	char done[96], why[320];
	int rc;

	if (!vm)
		return;
	if (s->incoming) {
		session_refuse_state(s, id, EPERM, "StopVm", vm,
				     "an incoming VMM has no channels to stop: take over first");
		return;
	}
	if (v) {
		TAILQ_FOREACH(ch, &v->channels, vm_link) {
			if (!channel_is_open(ch) || ch->stopped)
				continue;
			rc = channel_stop(ch);
			if (rc == -EAGAIN && !blocked)
				blocked = ch->region_name;
			if (rc < 0)
				continue;	/* closed meanwhile, or blocked */
			frames += (unsigned int)rc;
			n++;
		}
	}
	if (blocked) {
		snprintf(why, sizeof(why),
			 "region %s: the VMM does not read its responses, and frames behind them are unread: read them, then send StopVm again",
			 blocked);
		session_refuse_state(s, id, EAGAIN, "StopVm", vm, why);
		return;
	}
	log_info("vm %s: stopped by %s: %u regions, %u frames drained", vm,
		 s->client_name, n, frames);
	snprintf(done, sizeof(done), "%u regions stopped, %u frames drained",
		 n, frames);
	session_reply_ok(s, id, done);
}

static void session_cont_vm(struct session *s, uint32_t id,
			    const char *vm_name)
{
	const char *vm = session_state_scope(s, id, "ContVm",
						 vm_name);
	struct vm *v = vm ? vm_find(s->d, vm) : NULL;
	struct channel *ch;
	unsigned int n = 0;
	char done[64];

	if (!vm)
		return;
	if (v) {
		TAILQ_FOREACH(ch, &v->channels, vm_link) {
			if (channel_is_open(ch) && ch->stopped) {
				channel_cont(ch);
				n++;
			}
		}
	}
	if (n == 0) {
		session_refuse_state(s, id, ENOENT, "ContVm", vm,
				     "no region of the VM is stopped (it runs, or was taken over)");
		return;
	}
	log_info("vm %s: continued by %s: %u regions", vm, s->client_name, n);
	snprintf(done, sizeof(done), "%u regions continued", n);
	session_reply_ok(s, id, done);
}

static void session_check_migration(struct session *s, uint32_t id,
				    const Ior__CheckMigration *req)
{
	const char *vm = session_state_scope(s, id, "CheckMigration",
						 req->vm_name);
	char why[300];
	int rc;

	if (!vm)
		return;
	rc = vmstate_check_migration(s->d, vm, req->to_other_daemon, why,
				     sizeof(why));
	if (rc < 0) {
		session_refuse_state(s, id, -rc, "migration", vm, why);
		return;
	}
	session_reply_ok(s, id, NULL);
}

/* Refuses a save or load while one of vm's channels is being served. */
static bool session_vm_running(struct session *s, uint32_t id,
			       const char *what, const char *vm)
{
	struct channel *ch = vmstate_running(s->d, vm);
	char why[320];

	if (!ch)
		return false;
	snprintf(why, sizeof(why),
		 "VM %s is running (region %s is open and not stopped): send StopVm first",
		 vm, ch->region_name);
	session_refuse_state(s, id, EBUSY, what, vm, why);
	return true;
}

static void session_save_vm_state(struct session *s, uint32_t id,
				  const char *vm_name)
{
	Ior__ServerMessage msg = IOR__SERVER_MESSAGE__INIT;
	Ior__VmStateReply reply = IOR__VM_STATE_REPLY__INIT;
	const char *vm = session_state_scope(s, id, "SaveVmState",
						 vm_name);
	const char *kept[VMSTATE_MAX_KEPT];
	unsigned int records, nkept;
	uint64_t bytes;
	char why[300];
	int fd, rc;

	if (!vm || session_vm_running(s, id, "SaveVmState", vm))
		return;
	rc = vmstate_save(s->d, vm, &fd, &records, &bytes, kept, &nkept, why,
			  sizeof(why));
	if (rc < 0) {
		session_refuse_state(s, id, -rc, "SaveVmState", vm, why);
		return;
	}
	s->d->counters.vm_states_saved++;
	log_info("vm %s: state saved for %s: %u regions, %llu bytes", vm,
		 s->client_name, records, (unsigned long long)bytes);
	reply.regions = records;
	reply.bytes = bytes;
	reply.n_kept = nkept;
	reply.kept = (char **)kept;
	msg.id = id;
	msg.body_case = IOR__SERVER_MESSAGE__BODY_VM_STATE;
	msg.vm_state = &reply;
	session_send(s, &msg, fd);
}

/* The VM goes on from the state just loaded: this connection's next open
 * of each region that is not open now is no power-on (a TPM keeps its
 * PCRs), as after a TakeOver. */
static void session_hand_loaded(struct session *s, const char *vm)
{
	struct vm *v = vm_get(s->d, vm);
	struct region *r;
	struct channel *ch;

	TAILQ_FOREACH(r, &s->d->regions, link) {
		if (!v || !config_region_has_vm(&r->cfg, vm))
			continue;
		ch = vm_channel(v, r->cfg.name);
		if (ch && !channel_is_open(ch))
			ch->handed_to = s->id;
	}
}

/* fd: the memfd the request carried, or -1; the caller closes it. */
static void session_load_vm_state(struct session *s, uint32_t id,
				  const char *vm_name, int fd)
{
	const char *vm = session_state_scope(s, id, "LoadVmState",
						 vm_name);
	char why[400], done[96];
	unsigned int kept;
	int rc;

	if (!vm || session_vm_running(s, id, "LoadVmState", vm))
		return;
	if (fd < 0) {
		session_refuse_state(s, id, EBADF, "LoadVmState", vm,
				     "load_vm_state carries the state memfd in SCM_RIGHTS; none came");
		return;
	}
	/* A destination on this daemon: shared devices stayed put. */
	rc = vmstate_load(s->d, vm, fd, s->incoming, &kept, why, sizeof(why));
	if (rc < 0) {
		session_refuse_state(s, id, -rc, "LoadVmState", vm, why);
		return;
	}
	s->d->counters.vm_states_loaded++;
	session_hand_loaded(s, vm);
	log_info("vm %s: state loaded by %s: %d regions, %u shared kept", vm,
		 s->client_name, rc, kept);
	if (kept)
		snprintf(done, sizeof(done),
			 "%d regions loaded, %u shared with other VMs kept as they are",
			 rc, kept);
	else
		snprintf(done, sizeof(done), "%d regions loaded", rc);
	session_reply_ok(s, id, done);
}

/* The incoming VMM takes the VM: the source's stopped channels close,
 * and this connection opens them anew. */
static void session_take_over(struct session *s, uint32_t id)
{
	struct vm *v;
	struct channel *ch;
	unsigned int n = 0;
	char why[320], done[64];

	if (!s->incoming) {
		session_refuse_state(s, id, EPERM, "TakeOver",
				     s->vm_name[0] ? s->vm_name : "(none)",
				     "only an incoming connection (hello.incoming) takes a VM over");
		return;
	}
	v = vm_find(s->d, s->vm_name);
	ch = vmstate_running(s->d, s->vm_name);
	if (ch) {
		snprintf(why, sizeof(why),
			 "region %s of VM %s is still served: the source must stop the VM (StopVm) first",
			 ch->region_name, s->vm_name);
		session_refuse_state(s, id, EBUSY, "TakeOver", s->vm_name, why);
		return;
	}
	if (v) {
		TAILQ_FOREACH(ch, &v->channels, vm_link) {
			if (!channel_is_open(ch))
				continue;
			channel_close(ch, "handed over to an incoming VMM");
			ch->handed_to = s->id;
			n++;
		}
	}
	s->incoming = false;
	s->d->counters.handovers++;
	log_info("vm %s: taken over by %s (pid %d): %u regions handed over",
		 s->vm_name, s->client_name, (int)s->peer.pid, n);
	snprintf(done, sizeof(done), "%u regions handed over", n);
	session_reply_ok(s, id, done);
}

/* Reload, plug and unplug: admin only; errors carry every config defect. */
static void session_admin(struct session *s, const Ior__ClientMessage *m)
{
	struct config_errors errs = { 0 };
	char *text;
	int rc;

	if (!s->admin) {
		session_refuse(s, m->id, EPERM, "admin rights required");
		return;
	}
	if (m->body_case == IOR__CLIENT_MESSAGE__BODY_RELOAD)
		rc = regionset_reload(s->d, &errs);
	else if (m->body_case == IOR__CLIENT_MESSAGE__BODY_PLUG)
		rc = regionset_plug(s->d, m->plug->region_json, &errs);
	else
		rc = regionset_unplug(s->d, m->unplug->name, &errs);
	if (rc == 0) {
		session_reply_ok(s, m->id, NULL);
		return;
	}
	text = config_errors_join(&errs);
	log_warn("client %s: request refused: %s", s->client_name,
		 text ? text : strerror(-rc));
	session_refuse(s, m->id, -rc, text ? text : strerror(-rc));
	free(text);
	config_errors_clear(&errs);
}

/* Every request type by name: a type this daemon does not know is refused
 * as such, never taken for another. */
static void session_dispatch(struct session *s, const Ior__ClientMessage *m,
			     int fd)
{
	char why[64];

	switch (m->body_case) {
	case IOR__CLIENT_MESSAGE__BODY_HELLO:
		session_hello(s, m->id, m->hello);
		return;
	case IOR__CLIENT_MESSAGE__BODY_LIST_REGIONS:
		session_list(s, m->id, m->list_regions);
		return;
	case IOR__CLIENT_MESSAGE__BODY_OPEN_REGION:
		session_open(s, m->id, m->open_region->name);
		return;
	case IOR__CLIENT_MESSAGE__BODY_CLOSE_REGION:
		session_close_region(s, m->id, m->close_region->name);
		return;
	case IOR__CLIENT_MESSAGE__BODY_OPEN_IRQ:
		session_open_irq(s, m->id, m->open_irq->line);
		return;
	case IOR__CLIENT_MESSAGE__BODY_SUBSCRIBE:
		s->subscribed = true;
		ioregiond_state_changed(s->d);
		session_reply_ok(s, m->id, NULL);
		return;
	case IOR__CLIENT_MESSAGE__BODY_STATS:
		session_stats(s, m->id, m->stats);
		return;
	case IOR__CLIENT_MESSAGE__BODY_RESET_VM:
		session_reset_vm(s, m->id, m->reset_vm);
		return;
	case IOR__CLIENT_MESSAGE__BODY_STOP_VM:
		session_stop_vm(s, m->id, m->stop_vm->vm_name);
		return;
	case IOR__CLIENT_MESSAGE__BODY_CONT_VM:
		session_cont_vm(s, m->id, m->cont_vm->vm_name);
		return;
	case IOR__CLIENT_MESSAGE__BODY_CHECK_MIGRATION:
		session_check_migration(s, m->id, m->check_migration);
		return;
	case IOR__CLIENT_MESSAGE__BODY_SAVE_VM_STATE:
		session_save_vm_state(s, m->id, m->save_vm_state->vm_name);
		return;
	case IOR__CLIENT_MESSAGE__BODY_LOAD_VM_STATE:
		session_load_vm_state(s, m->id, m->load_vm_state->vm_name, fd);
		return;
	case IOR__CLIENT_MESSAGE__BODY_TAKE_OVER:
		session_take_over(s, m->id);
		return;
	case IOR__CLIENT_MESSAGE__BODY_RELOAD:
	case IOR__CLIENT_MESSAGE__BODY_PLUG:
	case IOR__CLIENT_MESSAGE__BODY_UNPLUG:
		session_admin(s, m);
		return;
	case IOR__CLIENT_MESSAGE__BODY__NOT_SET:
	default:
		break;
	}
	snprintf(why, sizeof(why), "unknown request type %d",
		 (int)m->body_case);
	session_strike(s, m->id, EBADMSG, why);
}

/* Whether a request the session may make touches what workers serve
 * (channels, regions, devices, interrupt lines, VM records), so the
 * workers pause for it (worker.h). Every other type, an unknown one
 * included, touches nothing: Hello, ListRegions and Subscribe read or
 * write what only the main thread does; Stats copies counters under each
 * region's lock. Refusals found without looking at that state (scope,
 * admin rights) need no pause either. */
static bool session_needs_pause(const struct session *s,
				const Ior__ClientMessage *m)
{
	switch (m->body_case) {
	case IOR__CLIENT_MESSAGE__BODY_OPEN_REGION:
	case IOR__CLIENT_MESSAGE__BODY_CLOSE_REGION:
	case IOR__CLIENT_MESSAGE__BODY_OPEN_IRQ:
		return s->vm_name[0] != '\0';
	case IOR__CLIENT_MESSAGE__BODY_RESET_VM:
		return session_in_scope(s, m->reset_vm->vm_name);
	case IOR__CLIENT_MESSAGE__BODY_STOP_VM:
		return session_in_scope(s, m->stop_vm->vm_name);
	case IOR__CLIENT_MESSAGE__BODY_CONT_VM:
		return session_in_scope(s, m->cont_vm->vm_name);
	case IOR__CLIENT_MESSAGE__BODY_CHECK_MIGRATION:
		return session_in_scope(s, m->check_migration->vm_name);
	case IOR__CLIENT_MESSAGE__BODY_SAVE_VM_STATE:
		return session_in_scope(s, m->save_vm_state->vm_name);
	case IOR__CLIENT_MESSAGE__BODY_LOAD_VM_STATE:
		return session_in_scope(s, m->load_vm_state->vm_name);
	case IOR__CLIENT_MESSAGE__BODY_TAKE_OVER:
		return s->incoming;
	case IOR__CLIENT_MESSAGE__BODY_RELOAD:
	case IOR__CLIENT_MESSAGE__BODY_PLUG:
	case IOR__CLIENT_MESSAGE__BODY_UNPLUG:
		return s->admin;
	default:
		return false;
	}
}

/* Serves m under a pause if it needs one; fd: what it carried, or -1.
 * Takes both. */
static void session_serve(struct session *s, Ior__ClientMessage *m, int fd)
{
	if (!session_needs_pause(s, m)) {
		session_dispatch(s, m, fd);
	} else if (workers_may_pause(s->d)) {
		workers_hold(s->d);
		session_dispatch(s, m, fd);
		workers_release(s->d);
	} else {
		/* Too soon after the last pause: it waits for the next
		 * slot, and so does whatever the client sends after it. */
		s->stash = m;
		s->stash_fd = fd;
		event_del(s->ev_read);
		workers_defer(s->d, &s->job);
		return;
	}
	if (fd >= 0)
		close(fd);
	ior__client_message__free_unpacked(m, NULL);
}

/* The slot came (the workers are held): the stashed request is served,
 * and the session reads again. */
static void session_run_stash(struct worker_job *job)
{
	struct session *s = (struct session *)((char *)job -
					       offsetof(struct session, job));
	Ior__ClientMessage *m = s->stash;
	int fd = s->stash_fd;

	s->stash = NULL;
	s->stash_fd = -1;
	if (!s->closing) {
		workers_hold(s->d);
		session_dispatch(s, m, fd);
		workers_release(s->d);
	}
	if (fd >= 0)
		close(fd);
	ior__client_message__free_unpacked(m, NULL);
	if (!s->closing)
		event_add(s->ev_read, NULL);
}

/* fd: a descriptor the packet carried (-1: none), closed here. */
static void session_handle(struct session *s, const uint8_t *buf, size_t len,
			   int fd)
{
	Ior__ClientMessage *m;
	const char *why;

	m = ior__client_message__unpack(NULL, len, buf);
	if (!m) {
		if (fd >= 0)
			close(fd);
		session_strike(s, 0, EBADMSG, "malformed message");
		return;
	}
	why = control_client_message_check(m);
	if (why)
		session_strike(s, m->id, EINVAL, why);
	else if (!s->greeted &&
		 m->body_case != IOR__CLIENT_MESSAGE__BODY_HELLO)
		session_strike(s, m->id, EPROTO, "the first request must be hello");
	else {
		session_serve(s, m, fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	ior__client_message__free_unpacked(m, NULL);
}

static void session_read(struct session *s)
{
	static uint8_t buf[IOR_CONTROL_MAX_PACKET];
	ssize_t n;
	int passed;

	n = control_recv(s->fd, buf, sizeof(buf), &passed, MSG_DONTWAIT);
	if (n <= 0 && passed >= 0) {
		close(passed);
		passed = -1;
	}
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n == -EMSGSIZE) {
		session_strike(s, 0, EMSGSIZE, "message larger than 64 KiB");
		return;
	}
	if (n == -ENOMSG) {
		session_strike(s, 0, EBADMSG, "empty message");
		return;
	}
	if (n == -ETOOMANYREFS) {
		char why[128];

		/* Legal on the socket, beyond what a request may carry: the
		 * request lost its descriptors, so it is not served. Not a
		 * strike: nothing about it is malformed. */
		snprintf(why, sizeof(why),
			 "a request carries at most %d descriptors; this one had more and was not served",
			 IOR_CONTROL_MAX_FDS);
		session_refuse(s, 0, ETOOMANYREFS, why);
		return;
	}
	if (n <= 0) {
		session_drop(s, n == 0 ? "closed" : strerror((int)-n));
		return;
	}
	session_handle(s, buf, (size_t)n, passed);
}

/* Pauses the workers only for a request that needs it
 * (session_needs_pause), within the budget (worker.h). */
static void session_on_read(evutil_socket_t fd, short what, void *arg)
{
	session_read(arg);
}

static void session_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int rc;

	rc = session_flush(s);
	if (s->closing && (rc < 0 || STAILQ_EMPTY(&s->queue)))
		session_free(s);
	else if (rc < 0)
		session_drop(s, strerror(-rc));
}

static void session_announce(struct ioregiond *d, const struct region *r,
			     Ior__ServerMessage *msg)
{
	struct session *s;

	TAILQ_FOREACH(s, &d->sessions, link) {
		if (!s->subscribed || s->closing)
			continue;
		if (s->vm_name[0] ? config_region_has_vm(&r->cfg, s->vm_name)
				  : s->admin)
			session_send(s, msg, -1);
	}
}

/* The event for a region added or removed, to the sessions that may see
 * it. */
void session_notify(struct ioregiond *d, const struct region *r,
		    enum notify_event ev)
{
	Ior__ServerMessage msg = IOR__SERVER_MESSAGE__INIT;
	Ior__RegionAdded added = IOR__REGION_ADDED__INIT;
	Ior__RegionRemoved removed = IOR__REGION_REMOVED__INIT;
	Ior__RegionDescriptor desc;

	switch (ev) {
	case NOTIFY_REGION_ADDED:
		session_describe(r, &desc);
		added.region = &desc;
		msg.body_case = IOR__SERVER_MESSAGE__BODY_REGION_ADDED;
		msg.region_added = &added;
		break;
	case NOTIFY_REGION_REMOVED:
		removed.name = r->cfg.name;
		msg.body_case = IOR__SERVER_MESSAGE__BODY_REGION_REMOVED;
		msg.region_removed = &removed;
		break;
	}
	session_announce(d, r, &msg);
}
