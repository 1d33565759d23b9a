/* SPDX-License-Identifier: MIT */
/* Starts the real ioregiond for integration tests and talks to it. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "ioregion.h"
#include "libioregion.h"
#include "tis_driver.h"

struct harness_daemon {
	pid_t pid;
	char dir[64];
	char socket[128];
	char config[128];
	char log[128];
	int stdout_fd;		/* the daemon's stdout; -1: the log */
	int stderr_fd;		/* the daemon's stderr; -1: the log */
};

/* The ioregiond under test: $IOREGIOND, else ./ioregiond. */
const char *harness_binary(void);
/* "--poll-us=N" when $IOREGIOND_TEST_POLL_US is N (scripts/check's poll
 * tier runs every test with poll mode on), else NULL. */
const char *harness_poll_arg(void);
/* "--workers=N" when $IOREGIOND_TEST_WORKERS is N (scripts/check's workers
 * tier runs every test with 2 worker threads), else NULL. */
const char *harness_workers_arg(void);
/* In a forked child: stdout and stderr to the file PATH, opened for writing
 * with O_CREAT and EXTRA_FLAGS (O_TRUNC or O_APPEND). */
void harness_child_log(const char *path, int extra_flags);
/* Starts ioregiond on config_json (NULL: built-in) in a fresh directory and
 * waits until it answers. Aborts the test on failure. */
void harness_start(struct harness_daemon *hd, const char *config_json);
/* harness_start in two steps, for a test that puts something in hd->dir
 * (a stale socket, say) before the daemon starts. */
void harness_prepare(struct harness_daemon *hd, const char *config_json);
void harness_launch(struct harness_daemon *hd);
/* SIGTERM, wait, check it exited 0, remove the directory. */
void harness_stop(struct harness_daemon *hd);
/* Replaces the config file (for reload tests). */
void harness_write_config(struct harness_daemon *hd, const char *json);
/* Number of fds the daemon holds open. */
int harness_fd_count(const struct harness_daemon *hd);
/* The fd count once it stops changing (for a baseline). */
int harness_fd_count_settled(const struct harness_daemon *hd);
/* Waits up to 3 s for the daemon's fd count to come back to want. */
void harness_wait_fd_count(const struct harness_daemon *hd, int want);
bool harness_alive(const struct harness_daemon *hd);
/* The daemon's resident set (VmRSS), in KiB. */
long harness_rss_kib(const struct harness_daemon *hd);
/* SIGSTOP, returning once every thread of the daemon is stopped (kill
 * returns before a thread busy on another CPU is). */
void harness_freeze(const struct harness_daemon *hd);
/* CPU time of every thread of pid so far, in ns (schedstat). */
uint64_t harness_cpu_ns(pid_t pid);

/* Connects as vm (NULL: admin); aborts the test on failure. */
struct ioregion_client *harness_connect(const struct harness_daemon *hd,
					const char *vm);
/* The stats of vm (NULL: every VM) as JSON, for the caller to decref. */
json_t *harness_stats(struct ioregion_client *c, const char *vm);
/* A daemon-wide counter from Stats, asked as an admin. */
uint64_t harness_daemon_counter(const struct harness_daemon *hd,
				const char *name);
/* Opens a region and returns its data fd. */
int harness_open(struct ioregion_client *c, const char *region);

/* One access exactly as KVM frames it; reads return the value. A reply
 * that does not come within 5 s fails the test. */
uint64_t harness_read(int fd, uint64_t offset, unsigned int size);
void harness_write(int fd, uint64_t offset, unsigned int size, uint64_t v);
void harness_post(int fd, uint64_t offset, unsigned int size, uint64_t v);
/* TIS registers (tis_driver.h) reached through a tpm-tis region's fd, with
 * harness_read and harness_write; *fd must outlive the result. */
struct tis_io harness_tis_io(int *fd);
void harness_send_frame(int fd, const struct ioregion_cmd *cmd);
/* Reads one response; false if none came within timeout_ms. */
bool harness_recv_resp(int fd, struct ioregion_resp *resp, int timeout_ms);

/* Raw packets on the control socket, bypassing libioregion: a connection
 * that has said nothing yet, and the next reply on it (its Error code, 0
 * for another reply, -1 if the daemon closed the connection; fails the
 * test after 5 s). */
int harness_raw_connect(const struct harness_daemon *hd);
int harness_raw_reply(int fd);
/* Sends Hello speaking protocol major as vm (NULL: admin). */
void harness_raw_hello(int fd, unsigned int major, const char *vm);

/* Every region of the built-in config still answers for vm0 and vm1. */
void harness_assert_default_vms_alive(const struct harness_daemon *hd);

#endif
