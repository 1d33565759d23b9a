/* SPDX-License-Identifier: MIT */
/* ioregiond: serves MMIO/PIO regions of many VMs over the ioregion protocol. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/thread.h>

#include "device.h"
#include "control_io.h"
#include "ioregiond.h"
#include "log.h"
#include "pollset.h"
#include "restart.h"
#include "server.h"

struct main_options {
	const char *config_path;
	const char *socket_path;
	int poll_us;		/* -1: the config's */
	int workers;		/* -1: the config's */
	bool check_config;
	bool verbose;
};

static void main_usage(FILE *out)
{
	fprintf(out,
		"Usage: ioregiond [OPTION]...\n"
		"Serve the MMIO/PIO regions of many VMs over the ioregion protocol.\n"
		"\n"
		"  -c, --config PATH        JSON config (default: the built-in config)\n"
		"      --check-config       validate the config, print every error, exit\n"
		"  -s, --socket PATH        control socket when not socket-activated\n"
		"                           (default " IOREGION_DEFAULT_SOCKET ")\n"
		"      --poll-us N          poll busy channels for N microseconds\n"
		"                           after their last frame (0: off), for every\n"
		"                           region without its own poll_us\n"
		"      --workers N          serve the channels on N threads (1..%d;\n"
		"                           1: the main thread; default: one per CPU)\n"
		"  -v, --verbose            log debug messages\n"
		"      --print-capabilities print what this build supports as JSON\n"
		"  -V, --version            print the version\n"
		"  -h, --help               print this help\n"
		"\n"
		"Signals: SIGHUP reloads the config, SIGTERM and SIGINT stop.\n"
		"See ioregiond(8) and ioregiond.json(5).\n", WORKER_MAX);
}

static int main_print_capabilities(void)
{
	const struct device_ops *const *ops;
	const struct control_capability *cap;
	json_t *caps = json_object(), *devices = json_array();
	json_t *features = json_array();
	char *text;

	for (ops = device_all(); *ops; ops++)
		json_array_append_new(devices, json_string((*ops)->name));
	for (cap = control_capabilities; cap->name; cap++)
		json_array_append_new(features, json_string(cap->name));
	json_object_set_new(caps, "type", json_string("ioregion-server"));
	json_object_set_new(caps, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(caps, "protocol",
			    json_pack("{s:i,s:i}", "major", IOR_CONTROL_MAJOR,
				      "minor", IOR_CONTROL_MINOR));
	json_object_set_new(caps, "features", features);
	json_object_set_new(caps, "devices", devices);
	text = json_dumps(caps, JSON_INDENT(2));
	json_decref(caps);
	if (!text)
		return EXIT_FAILURE;
	puts(text);
	free(text);
	return EXIT_SUCCESS;
}

/* --poll-us: microseconds, in the range of the config's poll_us. */
static int main_poll_us(const char *arg, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (!*arg || *end || errno || v < 0 || v > CONFIG_MAX_POLL_US) {
		fprintf(stderr,
			"ioregiond: --poll-us: '%s' is not microseconds 0..%d\n",
			arg, CONFIG_MAX_POLL_US);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* --workers: a thread count, 1..WORKER_MAX. */
static int main_workers(const char *arg, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (!*arg || *end || errno || v < 1 || v > WORKER_MAX) {
		fprintf(stderr, "ioregiond: --workers: '%s' is not 1..%d\n",
			arg, WORKER_MAX);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int main_parse(int argc, char **argv, struct main_options *o)
{
	enum { OPT_CHECK = 256, OPT_CAPS, OPT_POLL, OPT_WORKERS };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "socket", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "poll-us", required_argument, NULL, OPT_POLL },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "print-capabilities", no_argument, NULL, OPT_CAPS },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:s:vVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config_path = optarg; break;
		case 's': o->socket_path = optarg; break;
		case 'v': o->verbose = true; break;
		case OPT_CHECK: o->check_config = true; break;
		case OPT_POLL:
			if (main_poll_us(optarg, &o->poll_us) < 0)
				return -1;
			break;
		case OPT_WORKERS:
			if (main_workers(optarg, &o->workers) < 0)
				return -1;
			break;
		case OPT_CAPS: exit(main_print_capabilities());
		case 'V': printf("ioregiond %s\n", PACKAGE_VERSION); exit(0);
		case 'h': main_usage(stdout); exit(0);
		default: main_usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ioregiond: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

/* Loads and validates; prints every defect. */
static struct config *main_load(const char *path)
{
	struct config_errors errs = { 0 };
	struct config *cfg = config_load(path, &errs);
	unsigned int i;

	for (i = 0; i < errs.count; i++)
		log_err("%s", errs.lines[i]);
	config_errors_clear(&errs);
	return cfg;
}

int main(int argc, char **argv)
{
	struct main_options o = {
		.socket_path = IOREGION_DEFAULT_SOCKET,
		.poll_us = -1,
		.workers = -1,
	};
	struct ioregiond d = { 0 };
	struct config_errors errs = { 0 };
	struct config *cfg;
	unsigned int nworkers;
	int rc;

	if (main_parse(argc, argv, &o) < 0)
		return 2;
	log_init(o.verbose);
	cfg = main_load(o.config_path);
	if (!cfg) {
		log_err("%s: invalid config", o.config_path ? o.config_path
							  : "built-in config");
		return EXIT_FAILURE;
	}
	if (o.check_config) {
		printf("%s: ok, %u regions\n",
		       o.config_path ? o.config_path : "built-in config",
		       cfg->nregions);
		config_free(cfg);
		return EXIT_SUCCESS;
	}
	if (cfg->verbose)
		log_init(true);
	signal(SIGPIPE, SIG_IGN);
	/* Before any loop exists: the workers' loops and the main one are
	 * reached from other threads (event_active, a held worker's). */
	if (evthread_use_pthreads() < 0)
		log_fatal("cannot make the event loops thread-safe");
	d.base = event_base_new();
	if (!d.base)
		log_fatal("cannot create the event loop");
	d.config_path = o.config_path;
	d.notify = server_notify;
	d.poll_us = o.poll_us;
	if (worker_main_init(&d) < 0)
		log_fatal("cannot create the poll set: %s", strerror(errno));
	nworkers = o.workers > 0 ? (unsigned int)o.workers
		 : cfg->workers ? cfg->workers : workers_default();
	if (workers_init(&d, nworkers) < 0)
		log_fatal("cannot create %u workers: %s", nworkers,
			  strerror(errno));
	if (nworkers == 1)
		log_info("serving channels on the main thread");
	else
		log_info("serving channels on %u worker threads", nworkers);
	TAILQ_INIT(&d.regions);
	TAILQ_INIT(&d.vms);
	TAILQ_INIT(&d.sessions);
	if (restart_apply(&d, cfg, &errs) < 0) {
		unsigned int i;

		for (i = 0; i < errs.count; i++)
			log_err("%s", errs.lines[i]);
		return EXIT_FAILURE;
	}
	rc = server_run(&d, o.socket_path);
	restart_free(&d);
	workers_free(&d);
	config_free(d.config);
	event_base_free(d.base);
	return rc;
}
