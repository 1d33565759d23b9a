/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "control_io.h"
#include "log.h"
#include "notify.h"
#include "regionset.h"

/* New config regions, then the plugged regions that stay. */
static int regionset_check_with_plugged(struct ioregiond *d,
					const struct config *cfg,
					struct config_errors *errs)
{
	unsigned int n = cfg->nregions, i;
	const struct config_region **all;
	const char **wheres;
	char (*names)[IOREGION_NAME_MAX + 32];
	struct region *r;
	int rc;

	TAILQ_FOREACH(r, &d->regions, link)
		n += r->plugged;
	/* Loading checked the config's own regions already. */
	if (n == cfg->nregions)
		return 0;
	all = calloc(n + 1, sizeof(*all));
	wheres = calloc(n + 1, sizeof(*wheres));
	names = calloc(n + 1, sizeof(*names));
	if (!all || !wheres || !names) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < cfg->nregions; i++) {
		snprintf(names[i], sizeof(names[i]), "regions[%u]", i);
		wheres[i] = names[i];
		all[i] = &cfg->regions[i];
	}
	TAILQ_FOREACH(r, &d->regions, link) {
		if (!r->plugged)
			continue;
		snprintf(names[i], sizeof(names[i]), "plugged region \"%s\"",
			 r->cfg.name);
		wheres[i] = names[i];
		all[i++] = &r->cfg;
	}
	rc = config_regions_check(all, wheres, i, errs) < 0 ? -EINVAL : 0;
out:
	free(all);
	free(wheres);
	free(names);
	return rc;
}

static bool regionset_keeps(struct ioregiond *d, const struct config_region *c)
{
	struct region *old = regionset_find(d, c->name);

	return old && !old->plugged && config_region_equal(&old->cfg, c);
}

/* What a kept region takes from the new config: the settings that are
 * not part of config_region_equal. */
static void regionset_update(struct region *r, const struct config_region *c)
{
	r->cfg.has_poll_us = c->has_poll_us;
	r->cfg.poll_us = c->poll_us;
}

int regionset_apply(struct ioregiond *d, struct config *cfg,
		    struct config_errors *errs)
{
	struct region **fresh;
	struct region *r, *next;
	unsigned int i, nfresh = 0;
	int rc;

	rc = regionset_check_with_plugged(d, cfg, errs);
	fresh = calloc(cfg->nregions + 1, sizeof(*fresh));
	if (rc < 0 || !fresh)
		goto fail;
	for (i = 0; i < cfg->nregions; i++) {
		if (regionset_keeps(d, &cfg->regions[i]))
			continue;
		fresh[nfresh] = region_new(d, &cfg->regions[i], false, errs);
		if (!fresh[nfresh])
			goto fail;
		nfresh++;
	}
	/* Everything is built: from here on nothing can fail. */
	for (r = TAILQ_FIRST(&d->regions); r; r = next) {
		bool kept = false;

		next = TAILQ_NEXT(r, link);
		for (i = 0; !r->plugged && i < cfg->nregions; i++)
			if (strcmp(cfg->regions[i].name, r->cfg.name) == 0 &&
			    (kept = regionset_keeps(d, &cfg->regions[i])))
				regionset_update(r, &cfg->regions[i]);
		if (!r->plugged && !kept)
			regionset_remove(r);
	}
	for (i = 0; i < nfresh; i++)
		regionset_add(fresh[i]);
	free(fresh);
	config_free(d->config);
	d->config = cfg;
	return 0;
fail:
	for (i = 0; fresh && i < nfresh; i++)
		region_free(fresh[i]);
	free(fresh);
	config_free(cfg);
	return rc < 0 ? rc : -EINVAL;
}

int regionset_reload(struct ioregiond *d, struct config_errors *errs)
{
	struct config *cfg = config_load(d->config_path, errs);
	int rc;

	d->counters.reloads++;
	rc = cfg ? regionset_apply(d, cfg, errs) : -EINVAL;
	if (rc < 0)
		d->counters.reload_failures++;
	return rc;
}

int regionset_plug(struct ioregiond *d, const char *region_json,
		   struct config_errors *errs)
{
	struct config_region cfg;
	const struct config_region **all;
	const char **wheres;
	struct region *r;
	json_error_t jerr;
	json_t *obj;
	unsigned int n = 0;
	int rc = -EINVAL;

	obj = json_loads(region_json, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		config_errors_add(errs, "region:%d:%d: %s", jerr.line,
				  jerr.column, jerr.text);
		return -EINVAL;
	}
	rc = config_region_parse(obj, "region", &cfg, errs);
	json_decref(obj);
	if (rc < 0)
		return -EINVAL;
	TAILQ_FOREACH(r, &d->regions, link)
		n++;
	all = calloc(n + 1, sizeof(*all));
	wheres = calloc(n + 1, sizeof(*wheres));
	if (!all || !wheres) {
		rc = -ENOMEM;
		goto out;
	}
	n = 0;
	TAILQ_FOREACH(r, &d->regions, link) {
		wheres[n] = r->cfg.name;
		all[n++] = &r->cfg;
	}
	wheres[n] = "region";
	all[n++] = &cfg;
	rc = -EINVAL;
	if (config_regions_check(all, wheres, n, errs) < 0)
		goto out;
	r = region_new(d, &cfg, true, errs);
	if (!r)
		goto out;
	/* Kept as given, so a restarted daemon plugs it again. */
	r->plug_json = strdup(region_json);
	regionset_add(r);
	rc = 0;
out:
	free(all);
	free(wheres);
	config_region_clear(&cfg);
	return rc;
}

int regionset_unplug(struct ioregiond *d, const char *name,
		     struct config_errors *errs)
{
	struct region *r = regionset_find(d, name);

	if (!r) {
		config_errors_add(errs, "no region \"%s\"", name);
		return -ENOENT;
	}
	regionset_remove(r);
	return 0;
}

void regionset_add(struct region *r)
{
	TAILQ_INSERT_TAIL(&r->d->regions, r, link);
	log_info("region %s: %s on %s 0x%llx+0x%llx for %u VM(s)%s",
		 r->cfg.name, r->cfg.device, config_bus_name(r->cfg.bus),
		 (unsigned long long)r->cfg.address,
		 (unsigned long long)r->cfg.size, r->cfg.nvms,
		 r->cfg.posted_writes ? ", posted writes" : "");
	notify_region(r->d, r, NOTIFY_REGION_ADDED);
	ioregiond_state_changed(r->d);
}

void regionset_remove(struct region *r)
{
	struct channel *ch;

	while ((ch = TAILQ_FIRST(&r->channels)))
		channel_close(ch, "region removed");
	TAILQ_REMOVE(&r->d->regions, r, link);
	notify_region(r->d, r, NOTIFY_REGION_REMOVED);
	ioregiond_state_changed(r->d);
	log_info("region %s: removed", r->cfg.name);
	region_free(r);
}

struct region *regionset_find(struct ioregiond *d, const char *name)
{
	struct region *r;

	TAILQ_FOREACH(r, &d->regions, link)
		if (strcmp(r->cfg.name, name) == 0)
			return r;
	return NULL;
}
