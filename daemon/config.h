/* SPDX-License-Identifier: MIT */
/*
 * The JSON config (ioregiond.json(5)): daemon settings, access rules and
 * regions. Loading validates everything and reports each defect with its
 * JSON path; a config that loads is one the daemon can run.
 */
#ifndef CONFIG_H_IOREGIOND
#define CONFIG_H_IOREGIOND

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

enum config_bus { CONFIG_BUS_MMIO, CONFIG_BUS_PIO };

struct config_region {
	char *name;
	char *device;
	enum config_bus bus;
	uint64_t address;
	uint64_t size;
	bool posted_writes;
	char **vms;
	unsigned int nvms;
	json_t *options;	/* may be NULL */
	bool has_irq;
	unsigned int irq;	/* the VMs' interrupt line ("irq") */
	char *input_socket;	/* console socket ("input"), or NULL */
	bool has_poll_us;	/* else the daemon's poll_us applies */
	unsigned int poll_us;	/* polling window after a frame, 0: off */
};

struct config_access {
	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;
	bool all_vms;
	char **vms;
	unsigned int nvms;
	bool admin;
};

/* Defaults of the daemon settings (ioregiond.json(5)). One uid may hold
 * half the connections, so the VMMs of another uid always get in;
 * connections that have not said hello are few, short-lived, and the
 * oldest makes room for a new one. */
#define CONFIG_MAX_CLIENTS 1024
#define CONFIG_MAX_CLIENTS_PER_UID 512
#define CONFIG_MAX_PENDING 64
#define CONFIG_HELLO_TIMEOUT_MS 5000
/* Poll mode (channel.h): how long a channel is polled after its last
 * frame, in microseconds; 0 turns it off. */
#define CONFIG_POLL_US 0
#define CONFIG_MAX_POLL_US 1000
/* Threads serving channels (worker.h). */
#define CONFIG_MAX_WORKERS 4

struct config {
	unsigned int max_clients;
	unsigned int max_clients_per_uid;
	unsigned int max_pending;	/* connections before hello */
	unsigned int hello_timeout_ms;
	unsigned int max_strikes;
	unsigned int poll_us;		/* regions without their own */
	unsigned int workers;		/* threads serving channels, 0: default */
	bool verbose;
	struct config_access *access;
	unsigned int naccess;
	bool has_access;	/* else the default rules apply */
	struct config_region *regions;
	unsigned int nregions;
};

/* Every defect found, one line each, for the log or the control client. */
struct config_errors {
	char **lines;
	unsigned int count;
};

void config_errors_add(struct config_errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* All lines joined with newlines; the caller frees it. */
char *config_errors_join(const struct config_errors *errs);
void config_errors_clear(struct config_errors *errs);

/* The built-in config used without -c: one region of each device. */
extern const char config_default_json[];

/* NULL on failure, with every defect in errs. path NULL: the built-in. */
struct config *config_load(const char *path, struct config_errors *errs);
struct config *config_parse(const char *text, struct config_errors *errs);
void config_free(struct config *cfg);

/* One region object, as Plug sends it; where names its JSON path. */
int config_region_parse(const json_t *obj, const char *where,
			struct config_region *out, struct config_errors *errs);
int config_region_copy(struct config_region *dst,
		       const struct config_region *src);
void config_region_clear(struct config_region *r);
bool config_region_equal(const struct config_region *a,
			 const struct config_region *b);
bool config_region_has_vm(const struct config_region *r, const char *vm);
/* Index of vm in r->vms, or -1. */
int config_region_vm_index(const struct config_region *r, const char *vm);

/* Checks names are unique and no two regions of one VM overlap on a bus.
 * wheres[i] names the JSON path of regions[i] for the messages. */
int config_regions_check(const struct config_region *const *regions,
			 const char *const *wheres, unsigned int count,
			 struct config_errors *errs);

const char *config_bus_name(enum config_bus bus);

#endif
