/* SPDX-License-Identifier: MIT */
/*
 * The control socket and the daemon's life cycle: socket activation or a
 * socket of its own, accepting clients, sd_notify (READY, STATUS, STOPPING,
 * WATCHDOG), and the signals (SIGTERM/SIGINT stop, SIGHUP reloads).
 */
#ifndef SERVER_H
#define SERVER_H

#include "ioregiond.h"

/* Serves until SIGTERM or SIGINT; returns the exit status. */
int server_run(struct ioregiond *d, const char *socket_path);

/* The listener of notify.h: the region events to the sessions, and the
 * STATUS= line. */
notify_fn server_notify;

#endif
