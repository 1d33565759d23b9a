/* SPDX-License-Identifier: MIT */
/* ioregionctl: administer ioregiond over its control socket. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "libioregion.h"

/* Exit statuses, documented in ioregionctl(1). */
#define CTL_OK 0
#define CTL_REFUSED 1
#define CTL_USAGE 2
#define CTL_UNREACHABLE 3

struct ctl {
	const char *socket;
	bool json;
	const char *vm;
	struct ioregion_client *c;
};

static int ctl_refused(struct ctl *ctl, const char *what, int rc)
{
	fprintf(stderr, "ioregionctl: %s: %s\n", what,
		rc == -ENOMEM ? strerror(-rc) : ioregion_client_error(ctl->c));
	return CTL_REFUSED;
}

static json_t *ctl_region_json(const struct ioregion_region *r)
{
	json_t *vms = json_array();
	unsigned int i;

	for (i = 0; i < r->nvms && i < 8; i++)
		json_array_append_new(vms, json_string(r->vms[i]));
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:b,s:o}", "name", r->name,
			 "device", r->device,
			 "bus", r->bus == IOREGION_BUS_PIO ? "pio" : "mmio",
			 "address", (json_int_t)r->address,
			 "size", (json_int_t)r->size,
			 "posted_writes", !!(r->flags & IOREGION_REGION_POSTED_WRITES),
			 "vms", vms);
}

static void ctl_print_json(json_t *root)
{
	char *text = json_dumps(root, JSON_INDENT(2));

	puts(text ? text : "null");
	free(text);
	json_decref(root);
}

static int ctl_list(struct ctl *ctl)
{
	struct ioregion_region *rs;
	int n = ioregion_client_list(ctl->c, ctl->vm ? ctl->vm : "", &rs), i;
	unsigned int j;

	if (n < 0)
		return ctl_refused(ctl, "list", n);
	if (ctl->json) {
		json_t *arr = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(arr, ctl_region_json(&rs[i]));
		ctl_print_json(arr);
	} else {
		printf("%-16s %-10s %-4s %-18s %-10s %-6s %s\n", "REGION",
		       "DEVICE", "BUS", "ADDRESS", "SIZE", "POSTED", "VMS");
		for (i = 0; i < n; i++) {
			printf("%-16s %-10s %-4s 0x%-16llx 0x%-8llx %-6s ",
			       rs[i].name, rs[i].device,
			       rs[i].bus == IOREGION_BUS_PIO ? "pio" : "mmio",
			       (unsigned long long)rs[i].address,
			       (unsigned long long)rs[i].size,
			       rs[i].flags & IOREGION_REGION_POSTED_WRITES ? "yes" : "no");
			for (j = 0; j < rs[i].nvms && j < 8; j++)
				printf("%s%s", j ? "," : "", rs[i].vms[j]);
			printf("%s\n", rs[i].nvms > 1 ? " (shared)" : "");
		}
	}
	free(rs);
	return CTL_OK;
}

static int ctl_stats(struct ctl *ctl)
{
	json_t *root, *vm, *r;
	size_t i, j;
	char *text;
	int rc = ioregion_client_stats(ctl->c, ctl->vm, &text);

	if (rc < 0)
		return ctl_refused(ctl, "stats", rc);
	root = json_loads(text, 0, NULL);
	free(text);
	if (ctl->json) {
		ctl_print_json(root);
		return CTL_OK;
	}
	printf("%-12s %-16s %-5s", "VM", "REGION", "OPEN");
#define CTL_COLUMN(name, column) printf(" %10s", column);
	IOREGION_COUNTERS(CTL_COLUMN)
	printf("\n");
	json_array_foreach(json_object_get(root, "vms"), i, vm) {
		json_array_foreach(json_object_get(vm, "regions"), j, r) {
			printf("%-12s %-16s %-5s",
			       json_string_value(json_object_get(vm, "name")),
			       json_string_value(json_object_get(r, "name")),
			       json_is_true(json_object_get(r, "open")) ? "yes" : "no");
#define CTL_VALUE(name, column) \
	printf(" %10lld", json_integer_value(json_object_get(r, #name)));
			IOREGION_COUNTERS(CTL_VALUE)
			printf("\n");
		}
	}
	json_decref(root);
	return CTL_OK;
}

static int ctl_status(struct ctl *ctl)
{
	json_t *root, *daemon, *v;
	const char *key;
	char *text;
	int rc = ioregion_client_stats(ctl->c, NULL, &text);

	if (rc < 0)
		return ctl_refused(ctl, "status", rc);
	root = json_loads(text, 0, NULL);
	free(text);
	daemon = json_object_get(root, "daemon");
	json_object_set_new(daemon, "version",
			    json_string(ioregion_client_daemon_version(ctl->c)));
	if (ctl->json) {
		ctl_print_json(json_incref(daemon));
	} else {
		printf("ioregiond %s\n", ioregion_client_daemon_version(ctl->c));
		json_object_foreach(daemon, key, v)
			if (json_is_integer(v))
				printf("  %-20s %lld\n", key, json_integer_value(v));
	}
	json_decref(root);
	return CTL_OK;
}

/* A region as JSON text, from an argument, a file or "-" for stdin. */
static char *ctl_read_region(const char *arg)
{
	json_error_t err;
	json_t *obj;
	char *text;

	if (arg[0] == '{')
		obj = json_loads(arg, 0, &err);
	else if (strcmp(arg, "-") == 0)
		obj = json_loadf(stdin, 0, &err);
	else
		obj = json_load_file(arg, 0, &err);
	if (!obj) {
		fprintf(stderr, "ioregionctl: %s: %d:%d: %s\n", arg, err.line,
			err.column, err.text);
		return NULL;
	}
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return text;
}

/* A stopped (or not running) VM's device state into path. */
static int ctl_save(struct ctl *ctl, const char *vm, const char *path)
{
	char buf[65536];
	uint64_t bytes, off = 0;
	ssize_t n;
	int memfd, fd, rc;

	rc = ioregion_client_save_vm_state(ctl->c, vm, &memfd, &bytes);
	if (rc < 0)
		return ctl_refused(ctl, "save", rc);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "ioregionctl: %s: %s\n", path, strerror(errno));
		close(memfd);
		return CTL_USAGE;
	}
	while (off < bytes) {
		n = pread(memfd, buf, sizeof(buf), (off_t)off);
		if (n <= 0 || write(fd, buf, (size_t)n) != n)
			break;
		off += (uint64_t)n;
	}
	close(memfd);
	if (close(fd) < 0 || off != bytes) {
		fprintf(stderr, "ioregionctl: %s: writing failed\n", path);
		return CTL_REFUSED;
	}
	printf("%s, %llu bytes\n", ioregion_client_reply_message(ctl->c),
	       (unsigned long long)bytes);
	return CTL_OK;
}

static int ctl_load(struct ctl *ctl, const char *vm, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		fprintf(stderr, "ioregionctl: %s: %s\n", path, strerror(errno));
		return CTL_USAGE;
	}
	rc = ioregion_client_load_vm_state(ctl->c, vm, fd);
	close(fd);
	if (rc < 0)
		return ctl_refused(ctl, "load", rc);
	printf("%s\n", ioregion_client_reply_message(ctl->c));
	return CTL_OK;
}

static int ctl_command(struct ctl *ctl, int argc, char **argv)
{
	const char *cmd = argv[0];
	char *text;
	int rc;

	if (!strcmp(cmd, "status") && argc == 1)
		return ctl_status(ctl);
	if (!strcmp(cmd, "list") && argc == 1)
		return ctl_list(ctl);
	if (!strcmp(cmd, "stats") && argc == 1)
		return ctl_stats(ctl);
	if (!strcmp(cmd, "reload") && argc == 1) {
		rc = ioregion_client_reload(ctl->c);
		return rc < 0 ? ctl_refused(ctl, "reload", rc) : CTL_OK;
	}
	if (!strcmp(cmd, "reset") && argc == 2) {
		rc = ioregion_client_reset_vm(ctl->c, argv[1]);
		return rc < 0 ? ctl_refused(ctl, "reset", rc) : CTL_OK;
	}
	if (!strcmp(cmd, "save") && argc == 3)
		return ctl_save(ctl, argv[1], argv[2]);
	if (!strcmp(cmd, "load") && argc == 3)
		return ctl_load(ctl, argv[1], argv[2]);
	if (!strcmp(cmd, "unplug") && argc == 2) {
		rc = ioregion_client_unplug(ctl->c, argv[1]);
		return rc < 0 ? ctl_refused(ctl, "unplug", rc) : CTL_OK;
	}
	if (!strcmp(cmd, "plug") && argc == 2) {
		text = ctl_read_region(argv[1]);
		if (!text)
			return CTL_USAGE;
		rc = ioregion_client_plug(ctl->c, text);
		free(text);
		return rc < 0 ? ctl_refused(ctl, "plug", rc) : CTL_OK;
	}
	fprintf(stderr, "ioregionctl: unknown command or wrong arguments: %s\n", cmd);
	return CTL_USAGE;
}

static void ctl_usage(FILE *out)
{
	fprintf(out,
		"Usage: ioregionctl [-s SOCKET] [--json] [--vm NAME] COMMAND\n"
		"Commands:\n"
		"  status             daemon version and counters\n"
		"  list               regions, their VMs, which are shared\n"
		"  stats              counters per VM and region\n"
		"  plug REGION        add a region: JSON text, a file, or - for stdin\n"
		"  unplug NAME        remove a region\n"
		"  reload             re-read the daemon's config\n"
		"  reset VM           VM's devices back to power-on state (its reboot)\n"
		"  save VM FILE       VM's device state into FILE (VM not running)\n"
		"  load VM FILE       device state from FILE into VM (not running)\n"
		"Exit status: 0 done, 1 refused by ioregiond, 2 usage, 3 no daemon.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "vm", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { 0 };
	int c, rc;

	while ((c = getopt_long(argc, argv, "s:jn:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': ctl.socket = optarg; break;
		case 'j': ctl.json = true; break;
		case 'n': ctl.vm = optarg; break;
		case 'h': ctl_usage(stdout); return CTL_OK;
		default: ctl_usage(stderr); return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		ctl_usage(stderr);
		return CTL_USAGE;
	}
	rc = ioregion_client_connect(ctl.socket, "ioregionctl", NULL, &ctl.c);
	if (rc < 0) {
		fprintf(stderr, "ioregionctl: %s\n",
			ctl.c ? ioregion_client_error(ctl.c) : strerror(-rc));
		ioregion_client_free(ctl.c);
		return CTL_UNREACHABLE;
	}
	rc = ctl_command(&ctl, argc - optind, argv + optind);
	ioregion_client_free(ctl.c);
	return rc;
}
