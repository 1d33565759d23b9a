/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "console.h"
#include "irq.h"
#include "notify.h"
#include "region.h"

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

struct region *region_new(struct ioregiond *d, const struct config_region *cfg,
			  bool plugged, struct config_errors *errs)
{
	struct region *r = calloc(1, sizeof(*r));
	struct device_host host = {
		.log = region_device_log,
		.set_irq = irq_region_set,
		.output = console_output,
		.input_ready = console_input_ready,
	};
	char why[256] = "out of memory";

	if (!r || config_region_copy(&r->cfg, cfg) < 0) {
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
		free(r);
		return NULL;
	}
	if (cfg->input_socket && !(r->console = console_open(r))) {
		config_errors_add(errs, "region %s: input.socket %s: %s",
				  cfg->name, cfg->input_socket, strerror(errno));
		region_free(r);
		return NULL;
	}
	return r;
}

void region_free(struct region *r)
{
	console_close(r->console);
	r->dev->ops->destroy(r->dev);
	config_region_clear(&r->cfg);
	free(r);
}

void region_publish(struct region *r)
{
	TAILQ_INSERT_TAIL(&r->d->regions, r, link);
	log_info("region %s: %s on %s 0x%llx+0x%llx for %u VM(s)%s",
		 r->cfg.name, r->cfg.device, config_bus_name(r->cfg.bus),
		 (unsigned long long)r->cfg.address,
		 (unsigned long long)r->cfg.size, r->cfg.nvms,
		 r->cfg.posted_writes ? ", posted writes" : "");
	notify_region(r->d, r, NOTIFY_REGION_ADDED);
}

void region_remove(struct region *r)
{
	struct channel *ch;

	while ((ch = TAILQ_FIRST(&r->channels)))
		channel_close(ch, "region removed");
	TAILQ_REMOVE(&r->d->regions, r, link);
	notify_region(r->d, r, NOTIFY_REGION_REMOVED);
	log_info("region %s: removed", r->cfg.name);
	region_free(r);
}

struct region *region_find(struct ioregiond *d, const char *name)
{
	struct region *r;

	TAILQ_FOREACH(r, &d->regions, link)
		if (strcmp(r->cfg.name, name) == 0)
			return r;
	return NULL;
}
