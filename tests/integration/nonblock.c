/* SPDX-License-Identifier: MIT */
/*
 * nonblock PID on|off: sets (on) or clears (off) O_NONBLOCK on every
 * AF_UNIX SOCK_STREAM socket of process PID: ioregiond's region sockets in
 * a VMM (its control socket is SOCK_SEQPACKET). The flag belongs to the
 * open file, which pidfd_getfd() shares with PID. tests/kernel uses it to
 * make KVM fail an in-kernel access with -EAGAIN, as it does for a VMM
 * whose region socket is non-blocking. Prints how many it changed.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char dir[64];
	struct dirent *e;
	int pidfd, fd, flags, type, n = 0;
	socklen_t len;
	bool on;
	DIR *d;

	if (argc != 3 || (strcmp(argv[2], "on") && strcmp(argv[2], "off"))) {
		fprintf(stderr, "usage: nonblock PID on|off\n");
		return 2;
	}
	on = strcmp(argv[2], "on") == 0;
	pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", atoi(argv[1]));
	if (pidfd < 0 || !(d = opendir(dir))) {
		fprintf(stderr, "nonblock: process %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
		if (fd < 0)
			continue;
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    type == SOCK_STREAM && (flags = fcntl(fd, F_GETFL)) >= 0 &&
		    fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0)
			n++;
		close(fd);
	}
	closedir(d);
	printf("nonblock: O_NONBLOCK %s on %d stream sockets of %s\n",
	       on ? "set" : "cleared", n, argv[1]);
	return n > 0 ? 0 : 1;
}
