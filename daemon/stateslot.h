/* SPDX-License-Identifier: MIT */
/*
 * Saved state in a memfd that outlives the daemon (it sits in systemd's fd
 * store). The file holds a header (magic, format version) and two slots;
 * each save goes into the older slot and is committed last by a check word
 * over its sequence number, length and contents, so a daemon killed in
 * the middle of a save leaves the previous one intact. Loading takes the
 * newest slot whose check holds.
 *
 * Format version 1, little-endian:
 *   0  "IORSTATE"  8  u32 version  12 u32 zero  16 u64 slot capacity
 *   24 u64 extra
 *   64 + i * (32 + capacity): u64 seq, u64 len, u64 check, u64 zero,
 *                             then len bytes of state
 *   64 + 2 * (32 + capacity): extra bytes the owner uses as it likes
 */
#ifndef STATESLOT_H
#define STATESLOT_H

#include <stddef.h>
#include <stdint.h>

#include "statebuf.h"

#define STATESLOT_VERSION 1

struct stateslot {
	int fd;
	uint8_t *map;
	size_t cap;		/* bytes of state a slot holds */
	size_t extra;		/* bytes after the slots */
	size_t map_len;
	uint64_t seq;		/* of the newest slot */
	unsigned int newest;	/* its index, 2 while none holds */
};

/* A new memfd named what, with room for cap bytes per slot and extra
 * bytes after them (pages are only used once written). */
int stateslot_create(struct stateslot *ss, const char *what, size_t cap,
		     size_t extra);
/* Maps a memfd a previous daemon saved into; fd becomes the slot's. On
 * failure (-EBADMSG: not a state file, -EPROTO: another format version)
 * fd is left to the caller and why says what is wrong. */
int stateslot_open(struct stateslot *ss, int fd, char *why, size_t whylen);
void stateslot_close(struct stateslot *ss);
/* The extra bytes. */
uint8_t *stateslot_extra(struct stateslot *ss);

/* Starts a save: sb covers the older slot. */
void stateslot_begin(struct stateslot *ss, struct statebuf *sb);
/* Commits what sb holds; -ENOSPC (nothing committed) when it overflowed. */
int stateslot_commit(struct stateslot *ss, const struct statebuf *sb);
/* sb covers the newest committed slot; -ENOENT when none holds. */
int stateslot_load(struct stateslot *ss, struct statebuf *sb);

#endif
