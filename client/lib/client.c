/* SPDX-License-Identifier: MIT */
/* libioregion: the control-socket half (connect, list, open, events). */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_io.h"
#include "libioregion.h"

#define CLIENT_MAX_EVENTS 4096

struct client_event_node {
	struct ioregion_event ev;
	struct client_event_node *next;
};

struct ioregion_client {
	int fd;
	uint32_t next_id;
	int timeout_ms;
	bool admin;
	bool incoming;		/* hello as a migration's destination */
	uint32_t capabilities;
	char daemon_version[64];
	char error[512];
	char reply[256];	/* the last Ok's message */
	struct client_event_node *events, **events_tail;
	unsigned int nevents;
};

static int client_fail(struct ioregion_client *c, int err, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));

static int client_fail(struct ioregion_client *c, int err, const char *fmt,
		       ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

const char *ioregion_client_error(const struct ioregion_client *c)
{
	return c->error;
}

int ioregion_client_fd(const struct ioregion_client *c)
{
	return c->fd;
}

void ioregion_client_set_timeout(struct ioregion_client *c, int seconds)
{
	c->timeout_ms = seconds * 1000;
}

bool ioregion_client_is_admin(const struct ioregion_client *c)
{
	return c->admin;
}

const char *ioregion_client_daemon_version(const struct ioregion_client *c)
{
	return c->daemon_version;
}

static void client_region_from(struct ioregion_region *r,
			       const Ior__RegionDescriptor *d)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", d->name);
	snprintf(r->device, sizeof(r->device), "%s", d->device);
	r->bus = d->bus == IOR__BUS__BUS_PIO ? IOREGION_BUS_PIO
					     : IOREGION_BUS_MMIO;
	r->address = d->address;
	r->size = d->size;
	r->flags = d->flags;
	r->user_data = d->user_data;
	r->nvms = (unsigned int)d->n_vms;
	for (i = 0; i < d->n_vms && i < 8; i++)
		snprintf(r->vms[i], sizeof(r->vms[i]), "%s", d->vms[i]);
	r->fd = -1;
	r->irq = d->has_irq ? (int)d->irq : -1;
}

static int client_queue_event(struct ioregion_client *c,
			      const Ior__ServerMessage *m)
{
	struct client_event_node *n;

	if (c->nevents >= CLIENT_MAX_EVENTS)
		return client_fail(c, ENOBUFS, "too many unread events");
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (m->body_case == IOR__SERVER_MESSAGE__BODY_REGION_ADDED) {
		n->ev.type = IOREGION_EVENT_REGION_ADDED;
		client_region_from(&n->ev.region, m->region_added->region);
	} else {
		n->ev.type = IOREGION_EVENT_REGION_REMOVED;
		n->ev.region.fd = -1;
		snprintf(n->ev.region.name, sizeof(n->ev.region.name), "%s",
			 m->region_removed->name);
	}
	*c->events_tail = n;
	c->events_tail = &n->next;
	c->nevents++;
	return 0;
}

static bool client_is_event(const Ior__ServerMessage *m)
{
	return m->id == 0 &&
	       (m->body_case == IOR__SERVER_MESSAGE__BODY_REGION_ADDED ||
		m->body_case == IOR__SERVER_MESSAGE__BODY_REGION_REMOVED);
}

/* Receives one message, waiting up to timeout_ms (-1: forever). */
static int client_recv(struct ioregion_client *c, int timeout_ms,
		       Ior__ServerMessage **out, int *fd)
{
	static __thread uint8_t buf[IOR_CONTROL_MAX_PACKET];
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int rc;

	*out = NULL;
	do {
		rc = poll(&pfd, 1, timeout_ms);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return client_fail(c, errno, "poll: %s", strerror(errno));
	if (rc == 0)
		return client_fail(c, ETIMEDOUT, "ioregiond did not answer");
	n = control_recv(c->fd, buf, sizeof(buf), fd, MSG_DONTWAIT);
	if (n == -EAGAIN)
		return 0;
	if (n == 0)
		return client_fail(c, ECONNRESET, "ioregiond closed the connection");
	if (n < 0)
		return client_fail(c, (int)n, "receive: %s", strerror((int)-n));
	*out = ior__server_message__unpack(NULL, (size_t)n, buf);
	if (!*out) {
		if (fd && *fd >= 0)
			close(*fd);
		return client_fail(c, EBADMSG, "malformed message from ioregiond");
	}
	return 1;
}

/* Sends a request and waits for its reply, queueing events that arrive in
 * between. An Error reply becomes a negative errno with its message. */
static int client_call_with(struct ioregion_client *c,
			    Ior__ClientMessage *req, int send_fd,
			    Ior__ServerMessage **reply, int *fd)
{
	Ior__ServerMessage *m;
	int rc;

	req->id = ++c->next_id ? c->next_id : ++c->next_id;
	rc = control_send(c->fd, &req->base, send_fd);
	if (rc == -EAGAIN) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

		if (poll(&pfd, 1, c->timeout_ms) == 1)
			rc = control_send(c->fd, &req->base, send_fd);
	}
	if (rc < 0)
		return client_fail(c, rc, "send to ioregiond: %s", strerror(-rc));
	for (;;) {
		if (fd)
			*fd = -1;
		rc = client_recv(c, c->timeout_ms, &m, fd);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		if (client_is_event(m)) {
			rc = client_queue_event(c, m);
			ior__server_message__free_unpacked(m, NULL);
			if (rc < 0)
				return rc;
			continue;
		}
		/* An Error with id 0 is about a packet the daemon could not
		 * read a request from: the one just sent. */
		if (m->id == req->id ||
		    (m->id == 0 && m->body_case == IOR__SERVER_MESSAGE__BODY_ERROR))
			break;
		ior__server_message__free_unpacked(m, NULL);
		if (fd && *fd >= 0)
			close(*fd);
	}
	if (m->body_case == IOR__SERVER_MESSAGE__BODY_ERROR) {
		rc = client_fail(c, m->error->code > 0 ? m->error->code : EIO,
				 "%s", m->error->message);
		ior__server_message__free_unpacked(m, NULL);
		if (fd && *fd >= 0) {
			close(*fd);
			*fd = -1;
		}
		return rc;
	}
	*reply = m;
	return 0;
}

static int client_call(struct ioregion_client *c, Ior__ClientMessage *req,
		       Ior__ServerMessage **reply, int *fd)
{
	return client_call_with(c, req, -1, reply, fd);
}

/* A reply of the expected kind, or -EBADMSG. */
static int client_expect(struct ioregion_client *c, Ior__ServerMessage *m,
			 Ior__ServerMessage__BodyCase body)
{
	if (m->body_case == body)
		return 0;
	ior__server_message__free_unpacked(m, NULL);
	return client_fail(c, EBADMSG, "unexpected reply from ioregiond");
}

static int client_hello(struct ioregion_client *c, const char *client_name,
			const char *vm_name)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__Hello hello = IOR__HELLO__INIT;
	Ior__ServerMessage *m;
	int rc;

	hello.major = IOR_CONTROL_MAJOR;
	hello.minor = IOR_CONTROL_MINOR;
	hello.client_name = (char *)client_name;
	hello.vm_name = (char *)vm_name;
	hello.has_incoming = c->incoming;
	hello.incoming = c->incoming;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_HELLO;
	req.hello = &hello;
	rc = client_call(c, &req, &m, NULL);
	if (rc < 0)
		return rc;
	rc = client_expect(c, m, IOR__SERVER_MESSAGE__BODY_HELLO);
	if (rc < 0)
		return rc;
	c->admin = m->hello->admin;
	c->capabilities = m->hello->capabilities;
	snprintf(c->daemon_version, sizeof(c->daemon_version), "%s",
		 m->hello->daemon_version);
	ior__server_message__free_unpacked(m, NULL);
	return 0;
}

static int client_connect(const char *path, const char *client_name,
			  const char *vm_name, bool incoming,
			  struct ioregion_client **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ioregion_client *c;
	int rc;

	*out = NULL;
	if (!path)
		path = IOREGION_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (!control_name_valid(client_name) ||
	    (vm_name && !control_name_valid(vm_name)))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->timeout_ms = 5000;
	c->incoming = incoming;
	c->events_tail = &c->events;
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = client_fail(c, errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	rc = client_hello(c, client_name, vm_name);
	if (rc < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	/* The caller gets the reason even though the connection failed. */
	*out = c;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	return rc;
}

int ioregion_client_connect(const char *path, const char *client_name,
			    const char *vm_name, struct ioregion_client **out)
{
	return client_connect(path, client_name, vm_name, false, out);
}

int ioregion_client_connect_incoming(const char *path,
				     const char *client_name,
				     const char *vm_name,
				     struct ioregion_client **out)
{
	if (!vm_name)
		return -EINVAL;
	return client_connect(path, client_name, vm_name, true, out);
}

uint32_t ioregion_client_capabilities(const struct ioregion_client *c)
{
	return c->capabilities;
}

const char *ioregion_client_reply_message(const struct ioregion_client *c)
{
	return c->reply;
}

void ioregion_client_free(struct ioregion_client *c)
{
	struct client_event_node *n;

	if (!c)
		return;
	while ((n = c->events)) {
		c->events = n->next;
		free(n);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* One page of the list, from offset on, appended to *regions. Returns the
 * regions the whole list has (as many as were appended from a daemon
 * that does not page). */
static int client_list_page(struct ioregion_client *c, const char *vm_name,
			    uint32_t offset, struct ioregion_region **regions,
			    size_t *n)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__ListRegions list = IOR__LIST_REGIONS__INIT;
	Ior__ServerMessage *m;
	struct ioregion_region *more;
	size_t i, got;
	int rc;

	list.vm_name = (char *)vm_name;
	list.has_offset = offset > 0;
	list.offset = offset;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_LIST_REGIONS;
	req.list_regions = &list;
	rc = client_call(c, &req, &m, NULL);
	if (rc < 0 || (rc = client_expect(c, m, IOR__SERVER_MESSAGE__BODY_REGIONS)) < 0)
		return rc;
	got = m->regions->n_regions;
	more = realloc(*regions, (*n + got + 1) * sizeof(**regions));
	if (!more) {
		ior__server_message__free_unpacked(m, NULL);
		return -ENOMEM;
	}
	*regions = more;
	for (i = 0; i < got; i++)
		client_region_from(&more[(*n)++], m->regions->regions[i]);
	rc = m->regions->has_total ? (int)m->regions->total : (int)*n;
	ior__server_message__free_unpacked(m, NULL);
	/* A page that brings nothing ends the list, whatever total says. */
	return got == 0 ? (int)*n : rc;
}

int ioregion_client_list(struct ioregion_client *c, const char *vm_name,
			 struct ioregion_region **regions)
{
	size_t n = 0;
	int total;

	*regions = NULL;
	do {
		total = client_list_page(c, vm_name, (uint32_t)n, regions, &n);
	} while (total > 0 && n < (size_t)total);
	if (total < 0) {
		free(*regions);
		*regions = NULL;
		return total;
	}
	if (!*regions && !(*regions = calloc(1, sizeof(**regions))))
		return -ENOMEM;
	return (int)n;
}

int ioregion_client_open(struct ioregion_client *c, const char *name,
			 struct ioregion_region *region)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__OpenRegion open = IOR__OPEN_REGION__INIT;
	Ior__ServerMessage *m;
	int fd, rc;

	open.name = (char *)name;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_OPEN_REGION;
	req.open_region = &open;
	rc = client_call(c, &req, &m, &fd);
	if (rc < 0)
		return rc;
	if ((rc = client_expect(c, m, IOR__SERVER_MESSAGE__BODY_OPEN)) < 0 ||
	    fd < 0) {
		if (fd >= 0)
			close(fd);
		if (rc == 0)
			ior__server_message__free_unpacked(m, NULL);
		return rc < 0 ? rc : client_fail(c, EBADMSG, "no fd came with the region");
	}
	client_region_from(region, m->open->region);
	region->fd = fd;
	ior__server_message__free_unpacked(m, NULL);
	return 0;
}

int ioregion_client_open_irq(struct ioregion_client *c, unsigned int line,
			     int *fd)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__OpenIrq open = IOR__OPEN_IRQ__INIT;
	Ior__ServerMessage *m;
	int rc;

	open.line = line;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_OPEN_IRQ;
	req.open_irq = &open;
	rc = client_call(c, &req, &m, fd);
	if (rc < 0)
		return rc;
	rc = client_expect(c, m, IOR__SERVER_MESSAGE__BODY_IRQ);
	if (rc == 0)
		ior__server_message__free_unpacked(m, NULL);
	if (rc == 0 && *fd < 0)
		rc = client_fail(c, EBADMSG, "no eventfd came with the line");
	if (rc < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

/* Requests answered with Ok. */
static int client_call_ok(struct ioregion_client *c, Ior__ClientMessage *req)
{
	Ior__ServerMessage *m;
	int rc = client_call(c, req, &m, NULL);

	if (rc < 0 || (rc = client_expect(c, m, IOR__SERVER_MESSAGE__BODY_OK)) < 0)
		return rc;
	snprintf(c->reply, sizeof(c->reply), "%s",
		 m->ok->message ? m->ok->message : "");
	ior__server_message__free_unpacked(m, NULL);
	return 0;
}

int ioregion_client_stop_vm(struct ioregion_client *c, const char *vm_name)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__StopVm stop = IOR__STOP_VM__INIT;

	stop.vm_name = (char *)vm_name;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_STOP_VM;
	req.stop_vm = &stop;
	return client_call_ok(c, &req);
}

int ioregion_client_cont_vm(struct ioregion_client *c, const char *vm_name)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__ContVm cont = IOR__CONT_VM__INIT;

	cont.vm_name = (char *)vm_name;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_CONT_VM;
	req.cont_vm = &cont;
	return client_call_ok(c, &req);
}

int ioregion_client_check_migration(struct ioregion_client *c,
				    const char *vm_name, bool to_other_daemon)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__CheckMigration check = IOR__CHECK_MIGRATION__INIT;

	check.vm_name = (char *)vm_name;
	check.to_other_daemon = to_other_daemon;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_CHECK_MIGRATION;
	req.check_migration = &check;
	return client_call_ok(c, &req);
}

int ioregion_client_save_vm_state(struct ioregion_client *c,
				  const char *vm_name, int *memfd,
				  uint64_t *bytes)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__SaveVmState save = IOR__SAVE_VM_STATE__INIT;
	Ior__ServerMessage *m;
	int rc;

	*memfd = -1;
	save.vm_name = (char *)vm_name;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_SAVE_VM_STATE;
	req.save_vm_state = &save;
	rc = client_call(c, &req, &m, memfd);
	if (rc < 0)
		return rc;
	rc = client_expect(c, m, IOR__SERVER_MESSAGE__BODY_VM_STATE);
	if (rc == 0) {
		size_t i, off;

		/* Which regions stay in the daemon, for the caller to say. */
		off = (size_t)snprintf(c->reply, sizeof(c->reply), "%u regions",
				       m->vm_state->regions);
		for (i = 0; i < m->vm_state->n_kept && off < sizeof(c->reply); i++)
			off += (size_t)snprintf(c->reply + off,
						sizeof(c->reply) - off, "%s%s",
						i ? ", " : "; kept in the daemon: ",
						m->vm_state->kept[i]);
		if (bytes)
			*bytes = m->vm_state->bytes;
		rc = (int)m->vm_state->regions;
		ior__server_message__free_unpacked(m, NULL);
		if (*memfd < 0)
			rc = client_fail(c, EBADMSG, "no memfd came with the VM state");
	}
	if (rc < 0 && *memfd >= 0) {
		close(*memfd);
		*memfd = -1;
	}
	return rc;
}

int ioregion_client_load_vm_state(struct ioregion_client *c,
				  const char *vm_name, int memfd)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__LoadVmState load = IOR__LOAD_VM_STATE__INIT;
	Ior__ServerMessage *m;
	int rc;

	load.vm_name = (char *)vm_name;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_LOAD_VM_STATE;
	req.load_vm_state = &load;
	rc = client_call_with(c, &req, memfd, &m, NULL);
	if (rc < 0 || (rc = client_expect(c, m, IOR__SERVER_MESSAGE__BODY_OK)) < 0)
		return rc;
	snprintf(c->reply, sizeof(c->reply), "%s",
		 m->ok->message ? m->ok->message : "");
	ior__server_message__free_unpacked(m, NULL);
	return 0;
}

int ioregion_client_take_over(struct ioregion_client *c)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__TakeOver take = IOR__TAKE_OVER__INIT;

	req.body_case = IOR__CLIENT_MESSAGE__BODY_TAKE_OVER;
	req.take_over = &take;
	return client_call_ok(c, &req);
}

int ioregion_client_close_region(struct ioregion_client *c, const char *name)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__CloseRegion close_region = IOR__CLOSE_REGION__INIT;

	close_region.name = (char *)name;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_CLOSE_REGION;
	req.close_region = &close_region;
	return client_call_ok(c, &req);
}

int ioregion_client_subscribe(struct ioregion_client *c)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__Subscribe sub = IOR__SUBSCRIBE__INIT;

	req.body_case = IOR__CLIENT_MESSAGE__BODY_SUBSCRIBE;
	req.subscribe = &sub;
	return client_call_ok(c, &req);
}

int ioregion_client_reload(struct ioregion_client *c)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__Reload reload = IOR__RELOAD__INIT;

	req.body_case = IOR__CLIENT_MESSAGE__BODY_RELOAD;
	req.reload = &reload;
	return client_call_ok(c, &req);
}

int ioregion_client_reset_vm(struct ioregion_client *c, const char *vm_name)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__ResetVm reset = IOR__RESET_VM__INIT;

	reset.vm_name = (char *)vm_name;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_RESET_VM;
	req.reset_vm = &reset;
	return client_call_ok(c, &req);
}

int ioregion_client_plug(struct ioregion_client *c, const char *region_json)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__Plug plug = IOR__PLUG__INIT;

	plug.region_json = (char *)region_json;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_PLUG;
	req.plug = &plug;
	return client_call_ok(c, &req);
}

int ioregion_client_unplug(struct ioregion_client *c, const char *name)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__Unplug unplug = IOR__UNPLUG__INIT;

	unplug.name = (char *)name;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_UNPLUG;
	req.unplug = &unplug;
	return client_call_ok(c, &req);
}

int ioregion_client_next_event(struct ioregion_client *c,
			       struct ioregion_event *ev)
{
	struct client_event_node *n;
	Ior__ServerMessage *m;
	int rc;

	while (!c->events) {
		rc = client_recv(c, 0, &m, NULL);
		if (rc == -ETIMEDOUT)
			return 0;
		if (rc <= 0)
			return rc;
		if (client_is_event(m))
			rc = client_queue_event(c, m);
		ior__server_message__free_unpacked(m, NULL);
		if (rc < 0)
			return rc;
	}
	n = c->events;
	c->events = n->next;
	if (!c->events)
		c->events_tail = &c->events;
	c->nevents--;
	*ev = n->ev;
	free(n);
	return 1;
}

/* A growing JSON text: the stats document is written out by hand, so the
 * library needs no JSON library. */
struct client_json {
	char *text;
	size_t len, cap;
	bool oom;
};

static void client_json_put(struct client_json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void client_json_put(struct client_json *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = j->oom ? 0 : vsnprintf(j->text + j->len, j->cap - j->len,
					   fmt, ap);
		va_end(ap);
		if (j->oom || n < 0 || (size_t)n < j->cap - j->len)
			break;
		j->cap = 2 * (j->cap + (size_t)n);
		if (!(j->text = realloc(j->text, j->cap)))
			j->oom = true;
	}
	if (!j->oom && n > 0)
		j->len += (size_t)n;
}

/* A string, escaped. */
static void client_json_string(struct client_json *j, const char *s)
{
	client_json_put(j, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			client_json_put(j, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			client_json_put(j, "\\u%04x", (unsigned char)*s);
		else
			client_json_put(j, "%c", *s);
	}
	client_json_put(j, "\"");
}

static void client_json_counters(struct client_json *j, Ior__Counter **items,
				 size_t n)
{
	size_t i;

	client_json_put(j, "{");
	for (i = 0; i < n; i++) {
		client_json_put(j, i ? "," : "");
		client_json_string(j, items[i]->name);
		client_json_put(j, ":%" PRIu64, items[i]->value);
	}
	client_json_put(j, "}");
}

#define CLIENT_JSON_COUNTER(name, column) \
	client_json_put(j, ",\"" #name "\":%" PRIu64, (uint64_t)x->name);

static void client_json_region(struct client_json *j,
			       const Ior__RegionStats *x)
{
	client_json_put(j, "{\"name\":");
	client_json_string(j, x->name);
	client_json_put(j, ",\"open\":%s", x->open ? "true" : "false");
	if (x->has_worker)
		client_json_put(j, ",\"worker\":%" PRIu32, x->worker);
	IOREGION_COUNTERS(CLIENT_JSON_COUNTER)
	client_json_put(j, ",\"device\":");
	client_json_counters(j, x->device, x->n_device);
	client_json_put(j, "}");
}

/* A VM's name and totals, opening its region list. */
static void client_json_vm_open(struct client_json *j, const Ior__VmStats *x)
{
	client_json_put(j, "{\"name\":");
	client_json_string(j, x->name);
	IOREGION_COUNTERS(CLIENT_JSON_COUNTER)
	client_json_put(j, ",\"regions\":[");
}

/* The pages as one document: a VM cut between two pages is one VM. */
static char *client_stats_json(Ior__StatsReply *const *pages, size_t npages)
{
	struct client_json j = { 0 };
	const char *open_vm = NULL;
	size_t p, v, r, nregions = 0;

	client_json_put(&j, "{\"vms\":[");
	for (p = 0; p < npages; p++) {
		for (v = 0; v < pages[p]->n_vms; v++) {
			const Ior__VmStats *vs = pages[p]->vms[v];

			if (!open_vm || strcmp(open_vm, vs->name)) {
				client_json_put(&j, open_vm ? "]}," : "");
				client_json_vm_open(&j, vs);
				open_vm = vs->name;
				nregions = 0;
			}
			for (r = 0; r < vs->n_regions; r++) {
				client_json_put(&j, nregions++ ? "," : "");
				client_json_region(&j, vs->regions[r]);
			}
		}
	}
	client_json_put(&j, open_vm ? "]}],\"daemon\":" : "],\"daemon\":");
	client_json_counters(&j, pages[npages - 1]->daemon,
			     pages[npages - 1]->n_daemon);
	client_json_put(&j, "}");
	if (j.oom) {
		free(j.text);
		return NULL;
	}
	return j.text;
}

/* One page of the stats from offset on, appended to *pages. Returns the
 * records the whole reply has, or -errno. */
static int client_stats_page(struct ioregion_client *c, const char *vm_name,
			     uint32_t offset, Ior__ServerMessage ***pages,
			     size_t *npages, size_t *records)
{
	Ior__ClientMessage req = IOR__CLIENT_MESSAGE__INIT;
	Ior__StatsRequest stats = IOR__STATS_REQUEST__INIT;
	Ior__ServerMessage *m, **more;
	size_t v, got = 0;
	int rc;

	stats.vm_name = (char *)vm_name;
	stats.has_offset = offset > 0;
	stats.offset = offset;
	req.body_case = IOR__CLIENT_MESSAGE__BODY_STATS;
	req.stats = &stats;
	rc = client_call(c, &req, &m, NULL);
	if (rc < 0 || (rc = client_expect(c, m, IOR__SERVER_MESSAGE__BODY_STATS)) < 0)
		return rc;
	more = realloc(*pages, (*npages + 1) * sizeof(**pages));
	if (!more) {
		ior__server_message__free_unpacked(m, NULL);
		return -ENOMEM;
	}
	*pages = more;
	more[(*npages)++] = m;
	for (v = 0; v < m->stats->n_vms; v++)
		got += m->stats->vms[v]->n_regions;
	*records += got;
	/* A page that brings nothing ends the reply, whatever total says. */
	return m->stats->has_total && got ? (int)m->stats->total : (int)*records;
}

int ioregion_client_stats(struct ioregion_client *c, const char *vm_name,
			  char **json)
{
	Ior__ServerMessage **pages = NULL;
	Ior__StatsReply **replies;
	size_t npages = 0, records = 0, p;
	int total;

	*json = NULL;
	do {
		total = client_stats_page(c, vm_name, (uint32_t)records, &pages,
					  &npages, &records);
	} while (total > 0 && records < (size_t)total);
	replies = total < 0 ? NULL : calloc(npages, sizeof(*replies));
	for (p = 0; replies && p < npages; p++)
		replies[p] = pages[p]->stats;
	if (replies)
		*json = client_stats_json(replies, npages);
	for (p = 0; p < npages; p++)
		ior__server_message__free_unpacked(pages[p], NULL);
	free(pages);
	free(replies);
	if (total < 0)
		return total;
	return *json ? 0 : -ENOMEM;
}
