/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "frame.h"

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

int frame_recv_resp(int fd, struct ioregion_resp *resp, int timeout_ms)
{
	size_t done = 0;

	while (done < sizeof(*resp)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = poll(&pfd, 1, timeout_ms);
		ssize_t n;

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			return -ETIMEDOUT;
		n = recv(fd, (char *)resp + done, sizeof(*resp) - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}
