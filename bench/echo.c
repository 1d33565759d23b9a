/* SPDX-License-Identifier: MIT */
/* The floor for any device server: a 32-byte ping-pong over a socketpair
 * between two threads. Prints nanoseconds per round trip. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long echo_iters;

static void *echo_server(void *arg)
{
	int fd = *(int *)arg;
	char buf[32];
	long i;

	for (i = 0; i < echo_iters; i++)
		if (read(fd, buf, sizeof(buf)) != sizeof(buf) ||
		    write(fd, buf, sizeof(buf)) != sizeof(buf))
			break;
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec a, b;
	pthread_t t;
	char buf[32] = { 0 };
	int sv[2];
	long i;

	echo_iters = argc > 1 ? atol(argv[1]) : 100000;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 1;
	pthread_create(&t, NULL, echo_server, &sv[1]);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < echo_iters; i++)
		if (write(sv[0], buf, sizeof(buf)) != sizeof(buf) ||
		    read(sv[0], buf, sizeof(buf)) != sizeof(buf))
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(t, NULL);
	printf("%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) /
			 (double)echo_iters);
	return 0;
}
