/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <inttypes.h>
#include <string.h>
#include <syslog.h>

#include "device.h"

struct device *device_create(const struct device_ops *ops,
			     const json_t *options, uint64_t size,
			     unsigned int requesters,
			     const struct device_host *host, char *err,
			     size_t errlen)
{
	struct device *dev;

	dev = ops->create(options, size, requesters, err, errlen);
	if (!dev)
		return NULL;
	dev->ops = ops;
	if (host)
		dev->host = *host;
	else
		memset(&dev->host, 0, sizeof(dev->host));
	return dev;
}

int device_restore(struct device *dev, struct statebuf *sb, int memory_fd)
{
	if (dev->ops->restore(dev, sb, memory_fd) == 0 && statebuf_done(sb))
		return 0;
	dev->ops->reset(dev);
	return -1;
}

unsigned int device_write_batch(struct device *dev,
				const struct device_write *writes,
				unsigned int count)
{
	unsigned int i, failed = 0;

	if (dev->ops->write_batch)
		return dev->ops->write_batch(dev, writes, count);
	for (i = 0; i < count; i++)
		if (dev->ops->write(dev, writes[i].requester, writes[i].offset,
				    writes[i].size, writes[i].data) < 0)
			failed++;
	return failed;
}

void device_log(struct device *dev, int level, const char *fmt, ...)
{
	va_list ap;

	if (!dev->host.log)
		return;
	va_start(ap, fmt);
	dev->host.log(dev->host.ctx, level, fmt, ap);
	va_end(ap);
}

void device_set_irq(struct device *dev, unsigned int requester, bool level)
{
	if (dev->host.set_irq)
		dev->host.set_irq(dev->host.ctx, requester, level);
}

void device_output(struct device *dev, const uint8_t *buf, size_t len)
{
	if (dev->host.output)
		dev->host.output(dev->host.ctx, buf, len);
}

void device_input_ready(struct device *dev)
{
	if (dev->host.input_ready)
		dev->host.input_ready(dev->host.ctx);
}

int device_submit(struct device *dev, unsigned int requester,
		  unsigned int locality, const uint8_t *cmd, size_t len)
{
	if (!dev->host.submit)
		return -1;
	return dev->host.submit(dev->host.ctx, requester, locality, cmd, len);
}

int device_opt_uint(const json_t *options, const char *key, uint64_t def,
		    uint64_t min, uint64_t max, uint64_t *out, char *err,
		    size_t errlen)
{
	const json_t *v = options ? json_object_get(options, key) : NULL;
	json_int_t i;

	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v)) {
		snprintf(err, errlen, "options.%s: expected an integer", key);
		return -1;
	}
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max) {
		snprintf(err, errlen,
			 "options.%s: %" PRId64 " is outside %" PRIu64
			 "..%" PRIu64, key, (int64_t)i, min, max);
		return -1;
	}
	*out = (uint64_t)i;
	return 0;
}

int device_opt_known(const json_t *options, const char *const *keys,
		     char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!options)
		return 0;
	if (!json_is_object(options)) {
		snprintf(err, errlen, "options: expected an object");
		return -1;
	}
	json_object_foreach((json_t *)options, key, v) {
		const char *const *k;

		for (k = keys; *k; k++)
			if (strcmp(*k, key) == 0)
				break;
		if (!*k) {
			snprintf(err, errlen, "options.%s: unknown option", key);
			return -1;
		}
	}
	return 0;
}

uint64_t device_load(const uint8_t *p, unsigned int size)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void device_store(uint8_t *p, unsigned int size, uint64_t value)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(value >> (8 * i));
}
