/* SPDX-License-Identifier: MIT */
/* Shared by the device unit tests: make a device from JSON, access it. */
#ifndef DEVTEST_H
#define DEVTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "device.h"

static inline struct device *devtest_create(const char *model,
					    const char *options,
					    uint64_t size, unsigned int vms,
					    char *err, size_t errlen)
{
	json_t *opts = options ? json_loads(options, 0, NULL) : NULL;
	struct device *dev;

	if (options)
		assert_non_null(opts);
	dev = device_create(device_find(model), opts, size, vms, NULL, err,
			    errlen);
	json_decref(opts);
	return dev;
}

static inline struct device *devtest_new(const char *model,
					 const char *options, uint64_t size,
					 unsigned int vms)
{
	char err[256] = "";
	struct device *dev = devtest_create(model, options, size, vms, err,
					    sizeof(err));

	if (!dev)
		fail_msg("%s: %s", model, err);
	return dev;
}

/* Expects a create failure whose message contains what. */
static inline void devtest_refused(const char *model, const char *options,
				   uint64_t size, unsigned int vms,
				   const char *what)
{
	char err[256] = "";

	assert_null(devtest_create(model, options, size, vms, err,
				   sizeof(err)));
	if (!strstr(err, what))
		fail_msg("expected \"%s\" in \"%s\"", what, err);
}

static inline uint64_t devtest_read(struct device *dev, unsigned int vm,
				    uint64_t off, unsigned int size)
{
	uint64_t v = 0xdeadbeef;

	assert_int_equal(dev->ops->read(dev, vm, off, size, &v), 0);
	return v;
}

static inline void devtest_write(struct device *dev, unsigned int vm,
				 uint64_t off, unsigned int size, uint64_t v)
{
	assert_int_equal(dev->ops->write(dev, vm, off, size, v), 0);
}

static inline void devtest_read_fails(struct device *dev, unsigned int vm,
				      uint64_t off, unsigned int size)
{
	uint64_t v;

	assert_int_equal(dev->ops->read(dev, vm, off, size, &v), -1);
}

static inline void devtest_write_fails(struct device *dev, unsigned int vm,
				       uint64_t off, unsigned int size)
{
	assert_int_equal(dev->ops->write(dev, vm, off, size, 1), -1);
}

/* The value of a named device counter. */
struct devtest_stat {
	const char *name;
	uint64_t value;
	int found;
};

static inline void devtest_stat_cb(void *ctx, const char *name, uint64_t v)
{
	struct devtest_stat *s = ctx;

	if (strcmp(s->name, name) == 0) {
		s->value = v;
		s->found = 1;
	}
}

static inline uint64_t devtest_stat(struct device *dev, const char *name)
{
	struct devtest_stat s = { .name = name };

	dev->ops->stats(dev, devtest_stat_cb, &s);
	assert_true(s.found);
	return s.value;
}

static const unsigned int devtest_sizes[] = { 1, 2, 4, 8 };

/* What a restarted daemon does with a model: save it, create a fresh
 * instance from the same options and restore into it. keep bytes of the
 * saved state are offered (0: all); returns device_restore's result and
 * the fresh instance in *out. Frees dev. */
static inline int devtest_restart(struct device *dev, const char *options,
				  uint64_t size, unsigned int vms, size_t keep,
				  struct device **out)
{
	static uint8_t buf[1 << 20];
	const char *model = dev->ops->name;
	struct statebuf sb;
	int memfd = dev->ops->memory_fd ? dup(dev->ops->memory_fd(dev)) : -1;
	int rc;

	statebuf_init(&sb, buf, sizeof(buf));
	dev->ops->save(dev, &sb);
	assert_false(sb.error);
	dev->ops->destroy(dev);
	*out = devtest_new(model, options, size, vms);
	statebuf_init(&sb, buf, keep ? keep : sb.len);
	rc = device_restore(*out, &sb, memfd);
	if (memfd >= 0)
		close(memfd);
	return rc;
}

/* A host that records what a model does with its interrupt line and its
 * console, as the daemon's region would see it. */
#define DEVTEST_VMS 4
struct devtest_host {
	bool level[DEVTEST_VMS];
	unsigned int edges[DEVTEST_VMS];	/* rising edges */
	char out[256];
	size_t out_len;
	unsigned int input_ready;
};

static inline void devtest_host_set_one(struct devtest_host *h,
					unsigned int vm, bool level)
{
	assert_true(vm < DEVTEST_VMS);
	if (level && !h->level[vm])
		h->edges[vm]++;
	h->level[vm] = level;
}

static inline void devtest_host_set_irq(void *ctx, unsigned int requester,
					bool level)
{
	unsigned int i;

	if (requester != DEVICE_ALL_REQUESTERS) {
		devtest_host_set_one(ctx, requester, level);
		return;
	}
	for (i = 0; i < DEVTEST_VMS; i++)
		devtest_host_set_one(ctx, i, level);
}

static inline void devtest_host_output(void *ctx, const uint8_t *buf,
				       size_t len)
{
	struct devtest_host *h = ctx;

	assert_true(h->out_len + len < sizeof(h->out));
	memcpy(h->out + h->out_len, buf, len);
	h->out_len += len;
}

static inline void devtest_host_input_ready(void *ctx)
{
	((struct devtest_host *)ctx)->input_ready++;
}

static inline struct device *devtest_new_hosted(const char *model,
						const char *options,
						uint64_t size, unsigned int vms,
						struct devtest_host *h)
{
	struct device_host host = {
		.set_irq = devtest_host_set_irq,
		.output = devtest_host_output,
		.input_ready = devtest_host_input_ready,
		.ctx = h,
	};
	json_t *opts = options ? json_loads(options, 0, NULL) : NULL;
	char err[256] = "";
	struct device *dev;

	memset(h, 0, sizeof(*h));
	dev = device_create(device_find(model), opts, size, vms, &host, err,
			    sizeof(err));
	json_decref(opts);
	if (!dev)
		fail_msg("%s: %s", model, err);
	return dev;
}

#endif
