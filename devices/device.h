/* SPDX-License-Identifier: MIT */
/*
 * Device models. A model is a vtable with no knowledge of sockets or the
 * event loop: the daemon decodes frames and calls read/write with the offset
 * inside the region, the access size in bytes and the requester (the index
 * of the accessing VM in the region's "vms" list, so shared devices know who
 * is talking). Adding a model is one new file and one line in registry.c.
 */
#ifndef DEVICE_H
#define DEVICE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ioregion.h"
#include "statebuf.h"

/* The model's own struct from its embedded struct device. */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct device;

/* What a model may use of its host: logging, its interrupt line and its
 * console. The model never sees an fd: the host turns a rising edge of a
 * requester's line into an eventfd signal, and feeds console bytes through
 * device_ops.input. */
struct device_host {
	void (*log)(void *ctx, int level, const char *fmt, va_list ap);
	/* The model's interrupt output towards one requester's VM. */
	void (*set_irq)(void *ctx, unsigned int requester, bool level);
	/* Bytes the model sends out (a UART's transmitter), for the console. */
	void (*output)(void *ctx, const uint8_t *buf, size_t len);
	/* device_ops.input has room again after refusing bytes. */
	void (*input_ready)(void *ctx);
	/* Hands a command to the model's backend (a TPM's swtpm) on behalf
	 * of requester, from the given locality. Every accepted command is
	 * answered exactly once, in order, through device_ops.complete:
	 * later, from the event loop, never from inside this call; commands
	 * from before a reset_vm are answered too (the model drops those
	 * answers). While the backend is away (restarting) the command
	 * waits. A restarted daemon's backend owes nothing for what the
	 * previous one accepted: the model submits again what it still
	 * waits for. Returns 0, or -1 when the region has no backend or
	 * cannot take the command (too long, too many waiting). */
	int (*submit)(void *ctx, unsigned int requester, unsigned int locality,
		      const uint8_t *cmd, size_t len);
	void *ctx;
};

/* Every requester of the region, for device_set_irq. */
#define DEVICE_ALL_REQUESTERS (~0u)

struct device_write {
	uint64_t offset;
	uint64_t data;
	unsigned int size;
	unsigned int requester;
};

/* Called once per counter by device_ops.stats. */
typedef void device_stat_fn(void *ctx, const char *name, uint64_t value);

struct device_ops {
	const char *name;
	/* Validates options and size; on failure writes why into err. The
	 * host is bound by device_create once the instance exists. */
	struct device *(*create)(const json_t *options, uint64_t size,
				 unsigned int requesters, char *err,
				 size_t errlen);
	/* Return 0, or -1 when the access cannot be served (the daemon then
	 * answers all-ones and counts an error). */
	int (*read)(struct device *dev, unsigned int requester,
		    uint64_t offset, unsigned int size, uint64_t *value);
	int (*write)(struct device *dev, unsigned int requester,
		     uint64_t offset, unsigned int size, uint64_t value);
	/* Optional: posted writes in arrival order. Returns the number of
	 * writes that failed. Without it, write is called for each. */
	unsigned int (*write_batch)(struct device *dev,
				    const struct device_write *writes,
				    unsigned int count);
	/* Back to the state create gave, counters included. */
	void (*reset)(struct device *dev);
	void (*destroy)(struct device *dev);
	/* Writes what a restarted daemon needs to go on where this one
	 * stopped (registers, queues, counters) into sb; bulk memory kept in
	 * memory_fd is not copied. */
	void (*save)(struct device *dev, struct statebuf *sb);
	/* Takes back what save wrote, into an instance created from the same
	 * config; memory_fd is the saved instance's (or -1). Returns -1 when
	 * the state does not fit: the caller then resets the model. */
	int (*restore)(struct device *dev, struct statebuf *sb, int memory_fd);
	/* The format version of what save and save_vm write: raised on
	 * every change, so an old record is refused, never misread. */
	unsigned int state_version;
	/* Optional, for a device shared by several VMs whose model keeps
	 * state of each VM (a mailbox's inbox): requester's part alone, for
	 * migration. restore_vm returns -1 when it does not fit. */
	void (*save_vm)(struct device *dev, unsigned int requester,
			struct statebuf *sb);
	int (*restore_vm)(struct device *dev, unsigned int requester,
			  struct statebuf *sb);
	/* save_vm's part names no other requester (each VM's own TPM, unlike
	 * a mailbox's inbox, whose mail is addressed by requester index): it
	 * loads into the VM on another daemon, or into another VM. */
	bool vm_part_alone;
	/* Optional: a memfd holding the model's bulk memory (ram), which the
	 * daemon keeps across restarts as it is instead of copying it. */
	int (*memory_fd)(struct device *dev);
	void (*stats)(struct device *dev, device_stat_fn *emit, void *ctx);
	/* Optional: the backend's answer to a command requester's model
	 * handed to host.submit (see there). */
	void (*complete)(struct device *dev, unsigned int requester,
			 const uint8_t *resp, size_t len);
	/* Optional: requester's VM was powered on or reset (a VMM opened
	 * its channel anew): what belongs to that VM alone goes back to
	 * power-on state; other requesters see nothing. */
	void (*reset_vm)(struct device *dev, unsigned int requester);
	/* Optional: bytes arriving from the console (a UART's receiver).
	 * Returns how many were taken; the host keeps the rest until
	 * host.input_ready. */
	size_t (*input)(struct device *dev, const uint8_t *buf, size_t len);
};

struct device {
	const struct device_ops *ops;
	struct device_host host;
	/* Set before destroy when the state this instance holds lives on
	 * elsewhere (the next daemon of an fd-store restart; the live
	 * instance a scratch one checked a record for): what it kept, such
	 * as a UART's unfinished line, is not this instance's to emit. */
	bool handed_over;
};

/* The registry: NULL if no model has that name. */
const struct device_ops *device_find(const char *name);
/* Names of every model, NULL-terminated, for --print-capabilities. */
const struct device_ops *const *device_all(void);

/* Creates an instance through ops->create and binds it to its host. */
struct device *device_create(const struct device_ops *ops,
			     const json_t *options, uint64_t size,
			     unsigned int requesters,
			     const struct device_host *host, char *err,
			     size_t errlen);

/* ops->restore, or ops->reset when the saved state does not fit: the
 * model then starts fresh. Returns 0 or -1. */
int device_restore(struct device *dev, struct statebuf *sb, int memory_fd);

/* Dispatches a batch through write_batch or one write at a time. */
unsigned int device_write_batch(struct device *dev,
				const struct device_write *writes,
				unsigned int count);

void device_log(struct device *dev, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Drives the model's interrupt line towards requester (or
 * DEVICE_ALL_REQUESTERS); the host signals rising edges. */
void device_set_irq(struct device *dev, unsigned int requester, bool level);
void device_output(struct device *dev, const uint8_t *buf, size_t len);
void device_input_ready(struct device *dev);
/* host.submit; -1 when the host has no backend. */
int device_submit(struct device *dev, unsigned int requester,
		  unsigned int locality, const uint8_t *cmd, size_t len);

/* Helpers for option parsing shared by the models. */
int device_opt_uint(const json_t *options, const char *key, uint64_t def,
		    uint64_t min, uint64_t max, uint64_t *out, char *err,
		    size_t errlen);
/* Rejects keys not in the NULL-terminated list. */
int device_opt_known(const json_t *options, const char *const *keys,
		     char *err, size_t errlen);


/* Little-endian load/store of `size` bytes, for byte-array backed models. */
uint64_t device_load(const uint8_t *p, unsigned int size);
void device_store(uint8_t *p, unsigned int size, uint64_t value);

#endif /* DEVICE_H */
