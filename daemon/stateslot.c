/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stateslot.h"

#define STATESLOT_MAGIC "IORSTATE"
#define STATESLOT_HEADER 64
#define STATESLOT_SLOT_HEADER 32

struct stateslot_slot {
	uint64_t seq, len, check, zero;
	uint8_t data[];
};

static struct stateslot_slot *stateslot_slot(struct stateslot *ss,
					     unsigned int i)
{
	return (struct stateslot_slot *)(void *)(ss->map + STATESLOT_HEADER +
		i * (STATESLOT_SLOT_HEADER + ss->cap));
}

/* FNV-1a over the words of the state, mixed with seq and len: a torn or
 * scribbled slot does not check. */
static uint64_t stateslot_check(const struct stateslot_slot *s, uint64_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ s->seq ^ (len << 32);
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, s->data + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	for (; i < len; i++)
		h = (h ^ s->data[i]) * 0x100000001b3ull;
	return h | 1;	/* never 0, the mark of a slot being written */
}

static size_t stateslot_size(size_t cap, size_t extra)
{
	return STATESLOT_HEADER + 2 * (STATESLOT_SLOT_HEADER + cap) + extra;
}

static int stateslot_map(struct stateslot *ss, int fd, size_t cap,
			 size_t extra)
{
	ss->fd = fd;
	ss->cap = cap;
	ss->extra = extra;
	ss->map_len = stateslot_size(cap, extra);
	ss->map = mmap(NULL, ss->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	if (ss->map == MAP_FAILED) {
		ss->map = NULL;
		return -errno;
	}
	return 0;
}

int stateslot_create(struct stateslot *ss, const char *what, size_t cap,
		     size_t extra)
{
	int fd, rc;
	uint32_t version = STATESLOT_VERSION;
	uint64_t cap64, extra64 = extra;

	cap = (cap + 7) & ~(size_t)7;
	fd = memfd_create(what, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)stateslot_size(cap, extra)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = stateslot_map(ss, fd, cap, extra);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	cap64 = cap;
	memcpy(ss->map, STATESLOT_MAGIC, 8);
	memcpy(ss->map + 8, &version, 4);
	memcpy(ss->map + 16, &cap64, 8);
	memcpy(ss->map + 24, &extra64, 8);
	ss->seq = 0;
	ss->newest = 2;
	return 0;
}

static bool stateslot_valid(struct stateslot *ss, unsigned int i)
{
	struct stateslot_slot *s = stateslot_slot(ss, i);

	return s->seq && s->len <= ss->cap && s->check &&
	       s->check == stateslot_check(s, s->len);
}

/* The slot holding seq, and the other one. */
static unsigned int stateslot_newest(struct stateslot *ss)
{
	bool v0 = stateslot_valid(ss, 0), v1 = stateslot_valid(ss, 1);

	if (v0 && v1)
		return stateslot_slot(ss, 1)->seq > stateslot_slot(ss, 0)->seq;
	return v1 ? 1 : v0 ? 0 : 2;
}

int stateslot_open(struct stateslot *ss, int fd, char *why, size_t whylen)
{
	uint8_t header[32];
	uint32_t version;
	uint64_t cap, extra;
	struct stat st;

	if (fstat(fd, &st) < 0 || pread(fd, header, sizeof(header), 0) !=
					  (ssize_t)sizeof(header) ||
	    memcmp(header, STATESLOT_MAGIC, 8) != 0) {
		snprintf(why, whylen, "not an ioregiond state file");
		return -EBADMSG;
	}
	memcpy(&version, header + 8, 4);
	memcpy(&cap, header + 16, 8);
	memcpy(&extra, header + 24, 8);
	if (version != STATESLOT_VERSION) {
		snprintf(why, whylen,
			 "state format version %u, this daemon reads version %u",
			 version, STATESLOT_VERSION);
		return -EPROTO;
	}
	if (cap % 8 || cap > (uint64_t)st.st_size ||
	    extra > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size != stateslot_size(cap, extra)) {
		snprintf(why, whylen, "state file of %lld bytes does not fit its header",
			 (long long)st.st_size);
		return -EBADMSG;
	}
	if (stateslot_map(ss, fd, (size_t)cap, (size_t)extra) < 0) {
		snprintf(why, whylen, "cannot map: %s", strerror(errno));
		return -EBADMSG;
	}
	ss->seq = 0;
	ss->newest = stateslot_newest(ss);
	return 0;
}

void stateslot_close(struct stateslot *ss)
{
	if (ss->map)
		munmap(ss->map, ss->map_len);
	if (ss->fd >= 0)
		close(ss->fd);
	ss->map = NULL;
	ss->fd = -1;
}

uint8_t *stateslot_extra(struct stateslot *ss)
{
	return ss->map + stateslot_size(ss->cap, 0);
}

/* Writes go to the slot that is not the newest: the newest stays whole
 * until this one is committed. */
void stateslot_begin(struct stateslot *ss, struct statebuf *sb)
{
	struct stateslot_slot *s = stateslot_slot(ss, ss->newest == 0 ? 1 : 0);

	s->check = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	statebuf_init(sb, s->data, ss->cap);
}

int stateslot_commit(struct stateslot *ss, const struct statebuf *sb)
{
	struct stateslot_slot *s = (struct stateslot_slot *)(void *)
		(sb->data - STATESLOT_SLOT_HEADER);

	if (sb->error)
		return -ENOSPC;
	s->seq = ++ss->seq;
	s->len = sb->len;
	s->zero = 0;
	/* The check goes last: until it is written the slot does not hold. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s->check = stateslot_check(s, s->len);
	ss->newest = s == stateslot_slot(ss, 0) ? 0 : 1;
	return 0;
}

int stateslot_load(struct stateslot *ss, struct statebuf *sb)
{
	struct stateslot_slot *s;

	if (ss->newest > 1)
		return -ENOENT;
	s = stateslot_slot(ss, ss->newest);
	ss->seq = s->seq;
	statebuf_init(sb, s->data, s->len);
	return 0;
}
