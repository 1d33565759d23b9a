/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control_io.h"

int control_send_packed(int sock, const void *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (len > IOR_CONTROL_MAX_PACKET)
		return -EMSGSIZE;
	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

int control_send(int sock, const ProtobufCMessage *msg, int fd)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf;
	int rc;

	if (len > IOR_CONTROL_MAX_PACKET)
		return -EMSGSIZE;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	rc = control_send_packed(sock, buf, len, fd);
	free(buf);
	return rc;
}

static void control_take_fds(struct msghdr *mh, int *fd)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n, i;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(cm);
		for (i = 0; i < n; i++) {
			int f;

			memcpy(&f, &fds[i], sizeof(f));
			if (fd && *fd < 0)
				*fd = f;
			else
				close(f);
		}
	}
}

/* recvmsg returns 0 both for an empty packet and at end of stream; only
 * the peer's shutdown tells them apart. */
static bool control_peer_gone(int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN | POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 &&
	       (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

ssize_t control_recv(int sock, void *buf, size_t len, int *fd, int flags)
{
	union {
		char buf[CMSG_SPACE(IOR_CONTROL_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	ssize_t n;

	if (fd)
		*fd = -1;
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	if (n < 0)
		return -errno;
	control_take_fds(&mh, fd);
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (fd && *fd >= 0) {
			close(*fd);
			*fd = -1;
		}
		return mh.msg_flags & MSG_TRUNC ? -EMSGSIZE : -ETOOMANYREFS;
	}
	if (n == 0 && !control_peer_gone(sock))
		return -ENOMSG;
	return n;
}

const struct control_capability control_capabilities[] = {
	{ IOR__CAPABILITY__CAP_POSTED_WRITES, "posted-writes" },
	{ IOR__CAPABILITY__CAP_EVENTS, "events" },
	{ IOR__CAPABILITY__CAP_RELOAD, "reload" },
	{ IOR__CAPABILITY__CAP_PLUG, "plug" },
	{ IOR__CAPABILITY__CAP_SHARED_DEVICES, "shared-devices" },
	{ IOR__CAPABILITY__CAP_IRQ, "irq" },
	{ IOR__CAPABILITY__CAP_RESET, "reset" },
	{ IOR__CAPABILITY__CAP_MIGRATE, "migrate" },
	{ IOR__CAPABILITY__CAP_NONE, NULL },
};

uint32_t control_capability_mask(void)
{
	const struct control_capability *c;
	uint32_t mask = 0;

	for (c = control_capabilities; c->name; c++)
		mask |= (uint32_t)c->bit;
	return mask;
}

bool control_name_valid(const char *name)
{
	size_t i, len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len > IOREGION_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

static bool control_optional_name_valid(const char *name)
{
	return !name || !name[0] || control_name_valid(name);
}

const char *control_client_message_check(const Ior__ClientMessage *msg)
{
	switch (msg->body_case) {
	case IOR__CLIENT_MESSAGE__BODY_HELLO:
		if (!control_name_valid(msg->hello->client_name))
			return "hello.client_name is not a valid name";
		if (!control_optional_name_valid(msg->hello->vm_name))
			return "hello.vm_name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_LIST_REGIONS:
		if (!control_optional_name_valid(msg->list_regions->vm_name))
			return "list_regions.vm_name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_OPEN_REGION:
		if (!control_name_valid(msg->open_region->name))
			return "open_region.name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_CLOSE_REGION:
		if (!control_name_valid(msg->close_region->name))
			return "close_region.name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_STATS:
		if (!control_optional_name_valid(msg->stats->vm_name))
			return "stats.vm_name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_UNPLUG:
		if (!control_name_valid(msg->unplug->name))
			return "unplug.name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_RESET_VM:
		if (!control_optional_name_valid(msg->reset_vm->vm_name))
			return "reset_vm.vm_name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_STOP_VM:
		if (!control_optional_name_valid(msg->stop_vm->vm_name))
			return "stop_vm.vm_name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_CONT_VM:
		if (!control_optional_name_valid(msg->cont_vm->vm_name))
			return "cont_vm.vm_name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_CHECK_MIGRATION:
		if (!control_optional_name_valid(msg->check_migration->vm_name))
			return "check_migration.vm_name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_SAVE_VM_STATE:
		if (!control_optional_name_valid(msg->save_vm_state->vm_name))
			return "save_vm_state.vm_name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_LOAD_VM_STATE:
		if (!control_optional_name_valid(msg->load_vm_state->vm_name))
			return "load_vm_state.vm_name is not a valid name";
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY_TAKE_OVER:
	case IOR__CLIENT_MESSAGE__BODY_PLUG:
	case IOR__CLIENT_MESSAGE__BODY_OPEN_IRQ:
	case IOR__CLIENT_MESSAGE__BODY_SUBSCRIBE:
	case IOR__CLIENT_MESSAGE__BODY_RELOAD:
		return NULL;
	case IOR__CLIENT_MESSAGE__BODY__NOT_SET:
	default:
		/* A request of a newer protocol arrives as an unknown field. */
		return msg->base.n_unknown_fields ? "unknown request type"
						  : "message has no body";
	}
}
