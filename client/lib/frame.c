/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <time.h>

#include "frame.h"
#include "libioregion.h"

int frame_send(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *)buf + done, len - done,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EPIPE ? -ECONNRESET : -errno;
		done += (size_t)n;
	}
	return 0;
}

static uint64_t frame_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One non-blocking or blocking read into resp; 0 when nothing was there. */
static int frame_recv_some(int fd, struct ioregion_resp *resp, size_t *done,
			   int flags)
{
	ssize_t n = recv(fd, (char *)resp + *done, sizeof(*resp) - *done,
			 flags);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return -errno;
	*done += (size_t)n;
	return 0;
}

/* Reads without waiting until the response is whole or spin_us passed;
 * stops early, setting *preempted, when the thread was off its CPU
 * between two reads: another task wanted the CPU, perhaps the daemon. */
static int frame_spin(int fd, struct ioregion_resp *resp, size_t *done,
		      unsigned int spin_us, bool *preempted)
{
	uint64_t now, end, last;
	int rc;

	if (spin_us == 0)
		return 0;
	now = last = frame_now_ns();
	end = now + (uint64_t)spin_us * 1000;
	do {
		rc = frame_recv_some(fd, resp, done, MSG_DONTWAIT);
		if (rc < 0 || *done == sizeof(*resp))
			return rc;
		now = frame_now_ns();
		if (now - last > FRAME_SPIN_GAP_NS) {
			if (preempted)
				*preempted = true;
			return 0;
		}
		last = now;
	} while (now < end);
	return 0;
}

int frame_recv_resp(int fd, struct ioregion_resp *resp, int timeout_ms,
		    unsigned int spin_us, bool *preempted)
{
	size_t done = 0;
	int rc = frame_spin(fd, resp, &done, spin_us, preempted);

	while (rc == 0 && done < sizeof(*resp)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		rc = poll(&pfd, 1, timeout_ms);
		if (rc < 0 && errno == EINTR) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		rc = frame_recv_some(fd, resp, &done, 0);
	}
	return rc;
}

static unsigned int frame_spin_env = IOREGION_SPIN_DEFAULT_US;
static pthread_once_t frame_spin_once = PTHREAD_ONCE_INIT;

static void frame_spin_read_env(void)
{
	const char *s = getenv("IOREGION_SPIN_US");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*end && !errno && s[0] != '-' && v <= IOREGION_SPIN_MAX_US)
		frame_spin_env = (unsigned int)v;
}

unsigned int frame_spin_default_us(void)
{
	pthread_once(&frame_spin_once, frame_spin_read_env);
	return frame_spin_env;
}
