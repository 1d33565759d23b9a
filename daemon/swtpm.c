/* SPDX-License-Identifier: MIT */
/*
 * Starting, reaching and talking to one swtpm process: see swtpm.h.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "swtpm.h"

/* Control requests are quick (no TPM command runs behind them): a swtpm
 * that does not answer within this is stuck. */
#define SWTPM_CTRL_TIMEOUT_MS 5000
/* A TPM command may generate keys: Linux's longest TPM 2.0 duration. */
#define SWTPM_EXEC_TIMEOUT_MS 300000

static void swtpm_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t swtpm_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

uint32_t swtpm_hdr_size(const uint8_t *hdr)
{
	return swtpm_get_be32(hdr + 2);
}

void swtpm_error_response(uint8_t *buf, uint32_t rc)
{
	buf[0] = 0x80;	/* TPM_ST_NO_SESSIONS */
	buf[1] = 0x01;
	swtpm_put_be32(buf + 2, SWTPM_HDR_LEN);
	swtpm_put_be32(buf + 6, rc);
}

static long swtpm_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Waits for fd to be ready for events until the deadline. */
static int swtpm_wait(int fd, short events, const struct timespec *deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long left;
	int rc;

	for (;;) {
		left = swtpm_ms_left(deadline);
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static void swtpm_deadline(struct timespec *deadline, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += ms / 1000;
	deadline->tv_nsec += (ms % 1000) * 1000000;
	if (deadline->tv_nsec >= 1000000000) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000;
	}
}

static int swtpm_write_all(int fd, const void *buf, size_t len,
			   const struct timespec *deadline)
{
	const uint8_t *p = buf;
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = swtpm_wait(fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int swtpm_read_all(int fd, void *buf, size_t len,
			  const struct timespec *deadline)
{
	uint8_t *p = buf;
	ssize_t n;
	int rc;

	while (len > 0) {
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = swtpm_wait(fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int swtpm_ctrl(struct swtpm *t, uint32_t cmd, const void *req, size_t reqlen,
	       void *resp, size_t resplen, uint32_t *tpm_result)
{
	struct timespec deadline;
	uint8_t hdr[4], res[4];
	int rc;

	swtpm_deadline(&deadline, SWTPM_CTRL_TIMEOUT_MS);
	swtpm_put_be32(hdr, cmd);
	rc = swtpm_write_all(t->ctrl_fd, hdr, sizeof(hdr), &deadline);
	if (rc == 0 && reqlen)
		rc = swtpm_write_all(t->ctrl_fd, req, reqlen, &deadline);
	if (rc == 0)
		rc = swtpm_read_all(t->ctrl_fd, res, sizeof(res), &deadline);
	if (rc < 0)
		return rc;
	*tpm_result = swtpm_get_be32(res);
	if (*tpm_result != 0)
		return -EPROTO;
	if (resplen)
		return swtpm_read_all(t->ctrl_fd, resp, resplen, &deadline);
	return 0;
}

/* CMD_SET_DATAFD: the data channel's far end travels in SCM_RIGHTS with
 * the command word. */
static int swtpm_send_datafd(struct swtpm *t)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct timespec deadline;
	uint8_t word[4], res[4];
	struct iovec iov = { word, sizeof(word) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	swtpm_put_be32(word, SWTPM_CMD_SET_DATAFD);
	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
	rc = sendmsg(t->ctrl_fd, &msg, MSG_NOSIGNAL) == sizeof(word) ? 0 :
	     -errno;
	close(sv[1]);
	swtpm_deadline(&deadline, SWTPM_CTRL_TIMEOUT_MS);
	if (rc == 0)
		rc = swtpm_read_all(t->ctrl_fd, res, sizeof(res), &deadline);
	if (rc == 0 && swtpm_get_be32(res) != 0)
		rc = -EPROTO;
	if (rc < 0) {
		close(sv[0]);
		return rc;
	}
	t->data_fd = sv[0];
	return 0;
}

/* In the child: the control channel's end at a known number, every
 * other descriptor closed, signals as a fresh process has them (the
 * daemon's mask and ignored SIGPIPE would otherwise carry over), then
 * swtpm. Only async-signal-safe calls. */
static void swtpm_exec_child(int ctrl, pid_t parent, const char *binary,
			     char *const *argv)
{
	static const int sigs[] = { SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	sigset_t none;
	long fd, max;
	size_t i;

	if (ctrl != 3) {
		if (dup2(ctrl, 3) < 0)
			_exit(127);
	} else {
		fcntl(3, F_SETFD, 0);
	}
	if (close_range(4, ~0u, 0) < 0) {
		max = sysconf(_SC_OPEN_MAX);
		for (fd = 4; fd < max; fd++)
			close((int)fd);
	}
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	/* A daemon that dies takes its swtpms along (they save on SIGTERM);
	 * the next daemon starts its own from the saved state. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)	/* it died before the prctl */
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(binary, argv);
	_exit(127);
}

int swtpm_spawn(struct swtpm *t, const char *binary, const char *state_dir)
{
	char tpmstate[4200], log[4200];
	char *argv[] = {
		(char *)binary, "socket", "--tpm2",
		"--ctrl", "type=unixio,clientfd=3",
		"--tpmstate", tpmstate,
		"--log", log,
		"--terminate",
		NULL,
	};
	pid_t pid, parent = getpid();
	int sv[2], rc;

	t->pid = 0;
	t->ctrl_fd = t->data_fd = -1;
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(tpmstate, sizeof(tpmstate), "dir=%s,mode=0600", state_dir);
	snprintf(log, sizeof(log), "file=%s/swtpm.log,level=1", state_dir);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (pid == 0)
		swtpm_exec_child(sv[1], parent, binary, argv);
	close(sv[1]);
	t->pid = pid;
	t->ctrl_fd = sv[0];
	rc = swtpm_send_datafd(t);
	if (rc < 0)
		swtpm_close(t);
	return rc;
}

int swtpm_connect(struct swtpm *t, const char *ctrl_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc;

	t->pid = 0;
	t->data_fd = -1;
	if (strlen(ctrl_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, ctrl_path);
	t->ctrl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->ctrl_fd < 0)
		return -errno;
	if (connect(t->ctrl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		swtpm_close(t);
		return rc;
	}
	rc = swtpm_send_datafd(t);
	if (rc < 0)
		swtpm_close(t);
	return rc;
}

/* Waits up to ms for the child to exit; true when it did. */
static int swtpm_reap(pid_t pid, long ms)
{
	long waited;

	for (waited = 0; waited <= ms; waited += 10) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return 1;
		usleep(10000);
	}
	return 0;
}

void swtpm_close(struct swtpm *t)
{
	uint32_t res;

	/* Our own child saves its state on CMD_SHUTDOWN; a user's swtpm
	 * only loses its client. */
	if (t->pid > 0 && t->ctrl_fd >= 0)
		swtpm_ctrl(t, SWTPM_CMD_SHUTDOWN, NULL, 0, NULL, 0, &res);
	if (t->data_fd >= 0)
		close(t->data_fd);
	if (t->ctrl_fd >= 0)
		close(t->ctrl_fd);
	t->ctrl_fd = t->data_fd = -1;
	if (t->pid > 0 && !swtpm_reap(t->pid, 1000)) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	t->pid = 0;
}

void swtpm_kill(struct swtpm *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	t->pid = 0;
	swtpm_close(t);
}

int swtpm_send(struct swtpm *t, const uint8_t *cmd, size_t len)
{
	struct timespec deadline;

	swtpm_deadline(&deadline, SWTPM_CTRL_TIMEOUT_MS);
	return swtpm_write_all(t->data_fd, cmd, len, &deadline);
}

int swtpm_init(struct swtpm *t, uint32_t flags)
{
	uint8_t req[4];
	uint32_t res;

	swtpm_put_be32(req, flags);
	return swtpm_ctrl(t, SWTPM_CMD_INIT, req, sizeof(req), NULL, 0, &res);
}

int swtpm_set_locality(struct swtpm *t, unsigned int locality)
{
	uint8_t loc = (uint8_t)locality;
	uint32_t res;

	return swtpm_ctrl(t, SWTPM_CMD_SET_LOCALITY, &loc, 1, NULL, 0, &res);
}

int swtpm_get_blob(struct swtpm *t, uint32_t type, uint8_t **blob,
		   size_t *len)
{
	struct timespec deadline;
	uint8_t req[12], resp[12];
	uint32_t res, total, chunk;
	int rc;

	swtpm_put_be32(req, 0);		/* state_flags: as stored */
	swtpm_put_be32(req + 4, type);
	swtpm_put_be32(req + 8, 0);	/* offset */
	rc = swtpm_ctrl(t, SWTPM_CMD_GET_STATEBLOB, req, sizeof(req), resp,
			sizeof(resp), &res);
	if (rc < 0)
		return rc;
	/* Over a socket the whole blob follows its header at once. */
	total = swtpm_get_be32(resp + 4);
	chunk = swtpm_get_be32(resp + 8);
	if (chunk != total || total > (64u << 20))
		return -EPROTO;
	*blob = malloc(total ? total : 1);
	if (!*blob)
		return -ENOMEM;
	swtpm_deadline(&deadline, SWTPM_CTRL_TIMEOUT_MS);
	rc = swtpm_read_all(t->ctrl_fd, *blob, total, &deadline);
	if (rc < 0) {
		free(*blob);
		*blob = NULL;
		return rc;
	}
	*len = total;
	return 0;
}

int swtpm_set_blob(struct swtpm *t, uint32_t type, const uint8_t *blob,
		   size_t len)
{
	uint32_t res;
	uint8_t *req;
	int rc;

	if (len > UINT32_MAX - 12)
		return -EFBIG;
	/* state_flags, type, length, then the blob, in one request. */
	req = malloc(12 + len);
	if (!req)
		return -ENOMEM;
	swtpm_put_be32(req, 0);
	swtpm_put_be32(req + 4, type);
	swtpm_put_be32(req + 8, (uint32_t)len);
	memcpy(req + 12, blob, len);
	rc = swtpm_ctrl(t, SWTPM_CMD_SET_STATEBLOB, req, 12 + len, NULL, 0,
			&res);
	free(req);
	return rc;
}

ssize_t swtpm_exec(struct swtpm *t, const uint8_t *cmd, size_t len,
		   uint8_t *resp, size_t cap)
{
	struct timespec deadline;
	uint32_t size;
	int rc;

	if (cap < SWTPM_HDR_LEN)
		return -ENOBUFS;
	swtpm_deadline(&deadline, SWTPM_EXEC_TIMEOUT_MS);
	rc = swtpm_send(t, cmd, len);
	if (rc == 0)
		rc = swtpm_read_all(t->data_fd, resp, SWTPM_HDR_LEN, &deadline);
	if (rc < 0)
		return rc;
	size = swtpm_hdr_size(resp);
	if (size < SWTPM_HDR_LEN || size > cap)
		return -EPROTO;
	rc = swtpm_read_all(t->data_fd, resp + SWTPM_HDR_LEN,
			    size - SWTPM_HDR_LEN, &deadline);
	return rc < 0 ? rc : (ssize_t)size;
}
