/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <stddef.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "device.h"
#include "control_io.h"
#include "config.h"

#define CONFIG_MAX_REGIONS 4096
#define CONFIG_MAX_VMS_PER_REGION 64
#define PIO_SPACE 0x10000ull
/* KVM's default GSI routing has 24 IOAPIC pins; leave room for more. */
#define CONFIG_MAX_IRQ 1023
#define CONFIG_SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

void config_errors_add(struct config_errors *errs, const char *fmt, ...)
{
	char **lines;
	char *line;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	lines = realloc(errs->lines, (errs->count + 1) * sizeof(*lines));
	if (!line || !lines) {
		free(line);
		if (lines)
			errs->lines = lines;
		return;
	}
	errs->lines = lines;
	errs->lines[errs->count++] = line;
}

char *config_errors_join(const struct config_errors *errs)
{
	size_t len = 1;
	unsigned int i;
	char *s;

	for (i = 0; i < errs->count; i++)
		len += strlen(errs->lines[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < errs->count; i++) {
		if (i)
			strcat(s, "\n");
		strcat(s, errs->lines[i]);
	}
	return s;
}

void config_errors_clear(struct config_errors *errs)
{
	unsigned int i;

	for (i = 0; i < errs->count; i++)
		free(errs->lines[i]);
	free(errs->lines);
	errs->lines = NULL;
	errs->count = 0;
}

const char *config_bus_name(enum config_bus bus)
{
	return bus == CONFIG_BUS_PIO ? "pio" : "mmio";
}

/* Rejects keys outside the NULL-terminated list. */
static int config_known_keys(const json_t *obj, const char *where,
			     const char *const *keys,
			     struct config_errors *errs)
{
	const char *key;
	json_t *v;
	int rc = 0;

	json_object_foreach((json_t *)obj, key, v) {
		const char *const *k;

		for (k = keys; *k; k++)
			if (strcmp(*k, key) == 0)
				break;
		if (!*k) {
			config_errors_add(errs, "%s.%s: unknown key", where, key);
			rc = -1;
		}
	}
	return rc;
}

/* Integer, or a string such as "0x3f8" for addresses. */
static int config_u64(const json_t *v, const char *where, const char *key,
		      uint64_t *out, struct config_errors *errs)
{
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0) {
			config_errors_add(errs, "%s.%s: must not be negative",
					  where, key);
			return -1;
		}
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	s = json_string_value(v);
	if (!s) {
		config_errors_add(errs,
				  "%s.%s: expected an integer or a string like \"0x1000\"",
				  where, key);
		return -1;
	}
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (!*s || *end || errno || s[0] == '-' || s[0] == '+' || s[0] == ' ') {
		config_errors_add(errs, "%s.%s: \"%s\" is not a number", where,
				  key, s);
		return -1;
	}
	return 0;
}

static int config_bool(const json_t *obj, const char *where, const char *key,
		       bool *out, struct config_errors *errs)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		config_errors_add(errs, "%s.%s: expected true or false", where,
				  key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static const char *config_string(const json_t *obj, const char *where,
				 const char *key, struct config_errors *errs)
{
	const json_t *v = json_object_get(obj, key);

	if (!v) {
		config_errors_add(errs, "%s.%s: missing", where, key);
		return NULL;
	}
	if (!json_is_string(v)) {
		config_errors_add(errs, "%s.%s: expected a string", where, key);
		return NULL;
	}
	return json_string_value(v);
}

static void config_strv_free(char **v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* An array of VM names; "*" allowed only where star is set. */
static int config_vm_list(const json_t *arr, const char *where,
			  bool star, char ***out, unsigned int *n,
			  bool *has_star, struct config_errors *errs)
{
	size_t i, j;
	json_t *v;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > CONFIG_MAX_VMS_PER_REGION) {
		config_errors_add(errs, "%s.vms: expected an array of 1..%d VM names",
				  where, CONFIG_MAX_VMS_PER_REGION);
		return -1;
	}
	*out = calloc(json_array_size(arr), sizeof(char *));
	if (!*out)
		return -1;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		if (star && s && strcmp(s, "*") == 0) {
			*has_star = true;
			continue;
		}
		if (!control_name_valid(s)) {
			config_errors_add(errs,
					  "%s.vms[%zu]: not a VM name (1..%d of A-Z a-z 0-9 . _ -)",
					  where, i, IOREGION_NAME_MAX);
			rc = -1;
			continue;
		}
		for (j = 0; j < *n; j++)
			if (strcmp((*out)[j], s) == 0)
				break;
		if (j < *n) {
			config_errors_add(errs, "%s.vms[%zu]: \"%s\" listed twice",
					  where, i, s);
			rc = -1;
			continue;
		}
		(*out)[(*n)++] = strdup(s);
	}
	return rc;
}

static int config_region_check_device(const struct config_region *r,
				      const char *where,
				      struct config_errors *errs)
{
	const struct device_ops *ops = device_find(r->device);
	struct device *dev;
	char why[256] = "";

	if (!ops) {
		config_errors_add(errs, "%s.device: unknown device \"%s\"",
				  where, r->device);
		return -1;
	}
	dev = device_create(ops, r->options, r->size, r->nvms, NULL, why,
			    sizeof(why));
	if (!dev) {
		config_errors_add(errs, "%s.%s", where, why);
		return -1;
	}
	ops->destroy(dev);
	return 0;
}

static int config_region_range(struct config_region *r, const char *where,
			       struct config_errors *errs)
{
	if (r->size == 0) {
		config_errors_add(errs, "%s.size: must not be zero", where);
		return -1;
	}
	if (r->address + r->size - 1 < r->address) {
		config_errors_add(errs, "%s.address: 0x%" PRIx64 "+0x%" PRIx64
				  " wraps around", where, r->address, r->size);
		return -1;
	}
	/* Written so that no sum can wrap: a PIO range ending at 2^64 is
	 * not inside the port space. */
	if (r->bus == CONFIG_BUS_PIO &&
	    (r->address >= PIO_SPACE || r->size > PIO_SPACE - r->address)) {
		config_errors_add(errs, "%s.address: 0x%" PRIx64 "+0x%" PRIx64
				  " is beyond the 64 KiB port space", where,
				  r->address, r->size);
		return -1;
	}
	return 0;
}

/* "irq": the interrupt line the region's device drives in each VM. */
static void config_region_irq(const json_t *obj, const char *where,
			      struct config_region *r,
			      struct config_errors *errs)
{
	const json_t *v = json_object_get(obj, "irq");

	if (!v)
		return;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > CONFIG_MAX_IRQ) {
		config_errors_add(errs, "%s.irq: expected a line number 0..%d",
				  where, CONFIG_MAX_IRQ);
		return;
	}
	r->has_irq = true;
	r->irq = (unsigned int)json_integer_value(v);
}

/* "poll_us": the region's own polling window. */
static void config_region_poll(const json_t *obj, const char *where,
			       struct config_region *r,
			       struct config_errors *errs)
{
	const json_t *v = json_object_get(obj, "poll_us");

	if (!v)
		return;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > CONFIG_MAX_POLL_US) {
		config_errors_add(errs,
				  "%s.poll_us: expected microseconds 0..%d (0: no polling)",
				  where, CONFIG_MAX_POLL_US);
		return;
	}
	r->has_poll_us = true;
	r->poll_us = (unsigned int)json_integer_value(v);
}

/* "input": {"socket": path}: a console socket feeding the device. */
static void config_region_input(const json_t *obj, const char *where,
				struct config_region *r,
				struct config_errors *errs)
{
	static const char *const keys[] = { "socket", NULL };
	const json_t *v = json_object_get(obj, "input");
	const char *path;
	char in[256];
	const struct device_ops *ops;

	if (!v)
		return;
	snprintf(in, sizeof(in), "%s.input", where);
	if (!json_is_object(v)) {
		config_errors_add(errs, "%s: expected an object", in);
		return;
	}
	if (config_known_keys(v, in, keys, errs) < 0)
		return;
	path = config_string(v, in, "socket", errs);
	if (!path)
		return;
	if (path[0] != '/' || strlen(path) > CONFIG_SOCKET_PATH_MAX) {
		config_errors_add(errs,
				  "%s.socket: \"%s\" is not an absolute path of at most %zu bytes",
				  in, path, CONFIG_SOCKET_PATH_MAX);
		return;
	}
	ops = r->device ? device_find(r->device) : NULL;
	if (ops && !ops->input) {
		config_errors_add(errs, "%s: device \"%s\" takes no input", in,
				  r->device);
		return;
	}
	r->input_socket = strdup(path);
}

int config_region_parse(const json_t *obj, const char *where,
			struct config_region *r, struct config_errors *errs)
{
	static const char *const keys[] = {
		"name", "device", "bus", "address", "size", "posted_writes",
		"vms", "options", "comment", "irq", "input", "poll_us", NULL,
	};
	const char *name, *device, *bus;
	const json_t *v;
	bool dummy = false;
	unsigned int before = errs->count;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(obj)) {
		config_errors_add(errs, "%s: expected an object", where);
		return -1;
	}
	config_known_keys(obj, where, keys, errs);
	name = config_string(obj, where, "name", errs);
	if (name && !control_name_valid(name))
		config_errors_add(errs,
				  "%s.name: \"%s\" is not a name (1..%d of A-Z a-z 0-9 . _ -)",
				  where, name, IOREGION_NAME_MAX);
	device = config_string(obj, where, "device", errs);
	bus = config_string(obj, where, "bus", errs);
	if (bus && strcmp(bus, "mmio") && strcmp(bus, "pio"))
		config_errors_add(errs, "%s.bus: \"%s\" is not mmio or pio",
				  where, bus);
	r->bus = bus && strcmp(bus, "pio") == 0 ? CONFIG_BUS_PIO
						: CONFIG_BUS_MMIO;
	if (!(v = json_object_get(obj, "address")))
		config_errors_add(errs, "%s.address: missing", where);
	else
		config_u64(v, where, "address", &r->address, errs);
	if (!(v = json_object_get(obj, "size")))
		config_errors_add(errs, "%s.size: missing", where);
	else
		config_u64(v, where, "size", &r->size, errs);
	config_bool(obj, where, "posted_writes", &r->posted_writes, errs);
	if (!(v = json_object_get(obj, "vms")))
		config_errors_add(errs, "%s.vms: missing", where);
	else
		config_vm_list(v, where, false, &r->vms, &r->nvms, &dummy, errs);
	v = json_object_get(obj, "options");
	if (v && !json_is_object(v))
		config_errors_add(errs, "%s.options: expected an object", where);
	r->name = name ? strdup(name) : NULL;
	r->device = device ? strdup(device) : NULL;
	r->options = json_is_object(v) ? json_incref((json_t *)v) : NULL;
	config_region_irq(obj, where, r, errs);
	config_region_input(obj, where, r, errs);
	config_region_poll(obj, where, r, errs);
	if (errs->count != before)
		goto fail;
	if (config_region_range(r, where, errs) < 0 ||
	    config_region_check_device(r, where, errs) < 0)
		goto fail;
	return 0;
fail:
	config_region_clear(r);
	return -1;
}

void config_region_clear(struct config_region *r)
{
	free(r->name);
	free(r->device);
	free(r->input_socket);
	config_strv_free(r->vms, r->nvms);
	json_decref(r->options);
	memset(r, 0, sizeof(*r));
}

int config_region_copy(struct config_region *dst,
		       const struct config_region *src)
{
	unsigned int i;

	*dst = *src;
	dst->name = strdup(src->name);
	dst->device = strdup(src->device);
	dst->vms = calloc(src->nvms, sizeof(char *));
	dst->options = json_incref(src->options);
	dst->input_socket = src->input_socket ? strdup(src->input_socket) : NULL;
	if (!dst->name || !dst->device || !dst->vms ||
	    (src->input_socket && !dst->input_socket))
		goto fail;
	for (i = 0; i < src->nvms; i++)
		if (!(dst->vms[i] = strdup(src->vms[i])))
			goto fail;
	return 0;
fail:
	dst->nvms = dst->vms ? src->nvms : 0;
	config_region_clear(dst);
	return -ENOMEM;
}

/* Equal in meaning: "0x3f8" and 1016 are one address, comments and key
 * order do not count, nor does poll_us: a reload changes it in place. Options are compared as JSON values, which device
 * options are (numbers and strings, never spelled two ways). */
bool config_region_equal(const struct config_region *a,
			 const struct config_region *b)
{
	unsigned int i;

	if (strcmp(a->name, b->name) || strcmp(a->device, b->device) ||
	    a->bus != b->bus || a->address != b->address ||
	    a->size != b->size || a->posted_writes != b->posted_writes ||
	    a->nvms != b->nvms || a->has_irq != b->has_irq ||
	    (a->has_irq && a->irq != b->irq) ||
	    !a->input_socket != !b->input_socket ||
	    (a->input_socket && strcmp(a->input_socket, b->input_socket)))
		return false;
	for (i = 0; i < a->nvms; i++)
		if (strcmp(a->vms[i], b->vms[i]))
			return false;
	if (!a->options || !b->options)
		return !a->options == !b->options ||
		       json_object_size(a->options ? a->options : b->options) == 0;
	return json_equal(a->options, b->options);
}

int config_region_vm_index(const struct config_region *r, const char *vm)
{
	unsigned int i;

	for (i = 0; i < r->nvms; i++)
		if (strcmp(r->vms[i], vm) == 0)
			return (int)i;
	return -1;
}

bool config_region_has_vm(const struct config_region *r, const char *vm)
{
	return config_region_vm_index(r, vm) >= 0;
}

static bool config_ranges_overlap(const struct config_region *a,
				  const struct config_region *b)
{
	return a->bus == b->bus && a->address <= b->address + b->size - 1 &&
	       b->address <= a->address + a->size - 1;
}

/* The first VM both regions serve, or NULL. */
static const char *config_common_vm(const struct config_region *a,
				    const struct config_region *b)
{
	unsigned int i;

	for (i = 0; i < a->nvms; i++)
		if (config_region_has_vm(b, a->vms[i]))
			return a->vms[i];
	return NULL;
}

int config_regions_check(const struct config_region *const *regions,
			 const char *const *wheres, unsigned int count,
			 struct config_errors *errs)
{
	unsigned int i, j;
	int rc = 0;

	for (i = 0; i < count; i++) {
		const struct config_region *a = regions[i];

		for (j = 0; j < i; j++) {
			const struct config_region *b = regions[j];
			const char *vm;

			if (strcmp(a->name, b->name) == 0) {
				config_errors_add(errs,
						  "%s.name: \"%s\" is already the name of %s",
						  wheres[i], a->name, wheres[j]);
				rc = -1;
				continue;
			}
			if (a->input_socket && b->input_socket &&
			    strcmp(a->input_socket, b->input_socket) == 0) {
				config_errors_add(errs,
						  "%s.input.socket: \"%s\" is already the console of %s",
						  wheres[i], a->input_socket, wheres[j]);
				rc = -1;
			}
			vm = config_common_vm(a, b);
			if (vm && config_ranges_overlap(a, b)) {
				config_errors_add(errs,
						  "%s.address: 0x%" PRIx64 "+%" PRIu64
						  " overlaps region \"%s\" of VM \"%s\"",
						  wheres[i], a->address, a->size,
						  b->name, vm);
				rc = -1;
			}
		}
	}
	return rc;
}

static int config_id(const json_t *rule, const char *where, const char *num,
		     const char *name, bool user, bool *has, uint32_t *out,
		     struct config_errors *errs)
{
	const json_t *n = json_object_get(rule, num);
	const json_t *s = json_object_get(rule, name);
	uint64_t v;

	if (n && s) {
		config_errors_add(errs, "%s: give %s or %s, not both", where,
				  num, name);
		return -1;
	}
	if (n) {
		if (config_u64(n, where, num, &v, errs) < 0)
			return -1;
		*out = (uint32_t)v;
	} else if (s) {
		const char *str = json_string_value(s);
		struct passwd *pw;
		struct group *gr;

		if (!str) {
			config_errors_add(errs, "%s.%s: expected a string",
					  where, name);
			return -1;
		}
		if (user && (pw = getpwnam(str))) {
			*out = pw->pw_uid;
		} else if (!user && (gr = getgrnam(str))) {
			*out = gr->gr_gid;
		} else {
			config_errors_add(errs, "%s.%s: no such %s \"%s\"",
					  where, name, user ? "user" : "group",
					  str);
			return -1;
		}
	} else {
		return 0;
	}
	*has = true;
	return 0;
}

static int config_parse_access(struct config *cfg, const json_t *arr,
			       struct config_errors *errs)
{
	static const char *const keys[] = {
		"uid", "user", "gid", "group", "vms", "admin", "comment", NULL,
	};
	size_t i;
	json_t *rule;

	if (!json_is_array(arr)) {
		config_errors_add(errs, "access: expected an array of rules");
		return -1;
	}
	cfg->has_access = true;
	cfg->access = calloc(json_array_size(arr) + 1, sizeof(*cfg->access));
	if (!cfg->access)
		return -1;
	json_array_foreach(arr, i, rule) {
		struct config_access *a = &cfg->access[cfg->naccess];
		char where[32];

		snprintf(where, sizeof(where), "access[%zu]", i);
		if (!json_is_object(rule)) {
			config_errors_add(errs, "%s: expected an object", where);
			continue;
		}
		config_known_keys(rule, where, keys, errs);
		config_id(rule, where, "uid", "user", true, &a->has_uid,
			  &a->uid, errs);
		config_id(rule, where, "gid", "group", false, &a->has_gid,
			  &a->gid, errs);
		if (!a->has_uid && !a->has_gid)
			config_errors_add(errs, "%s: needs uid, user, gid or group",
					  where);
		config_bool(rule, where, "admin", &a->admin, errs);
		if (json_object_get(rule, "vms"))
			config_vm_list(json_object_get(rule, "vms"), where, true,
				       &a->vms, &a->nvms, &a->all_vms, errs);
		cfg->naccess++;
	}
	return 0;
}

/* The numeric daemon settings: key, where it goes, allowed range. */
struct config_limit {
	const char *key;
	size_t offset;
	unsigned int min, max;
};

static const struct config_limit config_limits[] = {
	{ "max_clients", offsetof(struct config, max_clients), 1, 65536 },
	{ "max_clients_per_uid", offsetof(struct config, max_clients_per_uid),
	  1, 65536 },
	{ "max_pending", offsetof(struct config, max_pending), 1, 65536 },
	{ "hello_timeout_ms", offsetof(struct config, hello_timeout_ms), 10,
	  3600000 },
	{ "max_strikes", offsetof(struct config, max_strikes), 1, 1000 },
	{ "poll_us", offsetof(struct config, poll_us), 0, CONFIG_MAX_POLL_US },
	{ "workers", offsetof(struct config, workers), 0, CONFIG_MAX_WORKERS },
};

#define CONFIG_NLIMITS (sizeof(config_limits) / sizeof(config_limits[0]))

static int config_parse_daemon(struct config *cfg, const json_t *obj,
			       struct config_errors *errs)
{
	const char *keys[CONFIG_NLIMITS + 3] = { "verbose", "comment" };
	const json_t *v;
	unsigned int i;
	uint64_t n;

	if (!json_is_object(obj)) {
		config_errors_add(errs, "daemon: expected an object");
		return -1;
	}
	for (i = 0; i < CONFIG_NLIMITS; i++)
		keys[i + 2] = config_limits[i].key;
	config_known_keys(obj, "daemon", keys, errs);
	for (i = 0; i < CONFIG_NLIMITS; i++) {
		const struct config_limit *l = &config_limits[i];

		v = json_object_get(obj, l->key);
		if (!v || config_u64(v, "daemon", l->key, &n, errs) < 0)
			continue;
		if (n < l->min || n > l->max)
			config_errors_add(errs, "daemon.%s: must be %u..%u",
					  l->key, l->min, l->max);
		*(unsigned int *)((char *)cfg + l->offset) = (unsigned int)n;
	}
	config_bool(obj, "daemon", "verbose", &cfg->verbose, errs);
	return 0;
}

static void config_parse_regions(struct config *cfg, const json_t *arr,
				 struct config_errors *errs)
{
	const struct config_region **ptrs;
	char (*wheres)[32];
	const char **wherep;
	size_t i, n = json_array_size(arr);
	json_t *obj;

	if (!json_is_array(arr) || n > CONFIG_MAX_REGIONS) {
		config_errors_add(errs, "regions: expected an array of at most %d regions",
				  CONFIG_MAX_REGIONS);
		return;
	}
	cfg->regions = calloc(n + 1, sizeof(*cfg->regions));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	wheres = calloc(n + 1, sizeof(*wheres));
	wherep = calloc(n + 1, sizeof(*wherep));
	if (!cfg->regions || !ptrs || !wheres || !wherep) {
		config_errors_add(errs, "regions: out of memory");
		goto out;
	}
	json_array_foreach(arr, i, obj) {
		char where[32];

		snprintf(where, sizeof(where), "regions[%zu]", i);
		if (config_region_parse(obj, where,
					&cfg->regions[cfg->nregions], errs) < 0)
			continue;
		memcpy(wheres[cfg->nregions], where, sizeof(where));
		wherep[cfg->nregions] = wheres[cfg->nregions];
		ptrs[cfg->nregions] = &cfg->regions[cfg->nregions];
		cfg->nregions++;
	}
	config_regions_check(ptrs, wherep, cfg->nregions, errs);
out:
	free(ptrs);
	free(wheres);
	free(wherep);
}

static struct config *config_from_json(const json_t *root,
				       struct config_errors *errs)
{
	static const char *const keys[] = {
		"daemon", "access", "regions", "comment", NULL,
	};
	struct config *cfg;
	const json_t *v;

	if (!json_is_object(root)) {
		config_errors_add(errs, "(root): expected an object");
		return NULL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return NULL;
	cfg->max_clients = CONFIG_MAX_CLIENTS;
	cfg->max_clients_per_uid = CONFIG_MAX_CLIENTS_PER_UID;
	cfg->max_pending = CONFIG_MAX_PENDING;
	cfg->hello_timeout_ms = CONFIG_HELLO_TIMEOUT_MS;
	cfg->max_strikes = 8;
	cfg->poll_us = CONFIG_POLL_US;
	config_known_keys(root, "(root)", keys, errs);
	if ((v = json_object_get(root, "daemon")))
		config_parse_daemon(cfg, v, errs);
	if ((v = json_object_get(root, "access")))
		config_parse_access(cfg, v, errs);
	if ((v = json_object_get(root, "regions")))
		config_parse_regions(cfg, v, errs);
	else
		config_errors_add(errs, "regions: missing");
	if (errs->count) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static struct config *config_from_loaded(json_t *root, json_error_t *jerr,
					 const char *origin,
					 struct config_errors *errs)
{
	struct config *cfg;

	if (!root && jerr->line < 1) {
		config_errors_add(errs, "%s: %s", origin, jerr->text);
		return NULL;
	}
	if (!root) {
		config_errors_add(errs, "%s:%d:%d: %s", origin, jerr->line,
				  jerr->column, jerr->text);
		return NULL;
	}
	cfg = config_from_json(root, errs);
	json_decref(root);
	return cfg;
}

struct config *config_parse(const char *text, struct config_errors *errs)
{
	json_error_t jerr;

	return config_from_loaded(json_loads(text, JSON_REJECT_DUPLICATES,
					     &jerr), &jerr, "(config)", errs);
}

/* Opens the file itself: jansson reports an unopenable file at line -1,
 * column -1, a position that does not exist. */
struct config *config_load(const char *path, struct config_errors *errs)
{
	json_error_t jerr;
	json_t *root;
	FILE *f;

	if (!path)
		return config_parse(config_default_json, errs);
	f = fopen(path, "re");
	if (!f) {
		config_errors_add(errs, "%s: %s", path, strerror(errno));
		return NULL;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	return config_from_loaded(root, &jerr, path, errs);
}

void config_free(struct config *cfg)
{
	unsigned int i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nregions; i++)
		config_region_clear(&cfg->regions[i]);
	free(cfg->regions);
	for (i = 0; i < cfg->naccess; i++)
		config_strv_free(cfg->access[i].vms, cfg->access[i].nvms);
	free(cfg->access);
	free(cfg);
}
