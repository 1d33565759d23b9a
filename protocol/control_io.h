/* SPDX-License-Identifier: MIT */
/*
 * Control-socket packets: one protobuf-c message per SOCK_SEQPACKET packet,
 * an optional file descriptor in SCM_RIGHTS. Shared by the daemon, the
 * client library and the tests.
 */
#ifndef CONTROL_IO_H
#define CONTROL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "control.pb-c.h"
#include "ioregion_common.h"

#define IOR_CONTROL_MAJOR 1
#define IOR_CONTROL_MINOR 3

/* Largest packet either side sends or accepts. */
#define IOR_CONTROL_MAX_PACKET 65536

/* Packs msg and sends it without blocking; fd < 0 sends no descriptor.
 * Returns 0 or a negative errno (-EAGAIN when the socket is full). */
int control_send(int sock, const ProtobufCMessage *msg, int fd);

/* Sends an already packed message; same returns as control_send. */
int control_send_packed(int sock, const void *buf, size_t len, int fd);

/* Descriptors one packet may carry; more are cut off by the kernel. */
#define IOR_CONTROL_MAX_FDS 4

/* Receives one packet into buf. Returns its length, 0 at end of stream, or a
 * negative errno: -EMSGSIZE for a packet larger than len, -ETOOMANYREFS for
 * one with more than IOR_CONTROL_MAX_FDS descriptors (its data is intact
 * but its descriptors are lost), -ENOMSG for an empty packet. A descriptor
 * that came with the packet goes to *fd (else -1); when fd is NULL, or more
 * than one came, the extra descriptors are closed. */
ssize_t control_recv(int sock, void *buf, size_t len, int *fd, int flags);

/* What this build offers: HelloReply.capabilities and the names that
 * ioregiond --print-capabilities prints. Ends with a NULL name. */
struct control_capability {
	Ior__Capability bit;
	const char *name;
};
extern const struct control_capability control_capabilities[];
uint32_t control_capability_mask(void);

/* Names: 1..IOREGION_NAME_MAX characters of [A-Za-z0-9._-]. */
bool control_name_valid(const char *name);

/* Checks what protobuf-c cannot: a body is present and every name is
 * well-formed. Returns NULL or why the message is refused. */
const char *control_client_message_check(const Ior__ClientMessage *msg);

#endif /* CONTROL_IO_H */
