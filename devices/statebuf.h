/* SPDX-License-Identifier: MIT */
/*
 * A device's saved state: fixed-width little-endian fields written into a
 * caller's buffer and read back with bounds checks. A field that does not
 * fit (writing) or is not there (reading) sets the error flag and reads as
 * zero, so a model can save or restore field by field and check once.
 */
#ifndef STATEBUF_H
#define STATEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct statebuf {
	uint8_t *data;
	size_t len;		/* bytes written, or read so far */
	size_t cap;
	bool error;		/* out of room, or past the end */
};

void statebuf_init(struct statebuf *sb, void *data, size_t cap);
void statebuf_put_u8(struct statebuf *sb, uint8_t v);
void statebuf_put_u32(struct statebuf *sb, uint32_t v);
void statebuf_put_u64(struct statebuf *sb, uint64_t v);
void statebuf_put_bytes(struct statebuf *sb, const void *p, size_t n);
/* Rewrite a field written earlier at byte at: a length known only once
 * what it counts is written. */
void statebuf_set_u32(struct statebuf *sb, size_t at, uint32_t v);
void statebuf_set_u64(struct statebuf *sb, size_t at, uint64_t v);
uint8_t statebuf_get_u8(struct statebuf *sb);
uint32_t statebuf_get_u32(struct statebuf *sb);
uint64_t statebuf_get_u64(struct statebuf *sb);
void statebuf_get_bytes(struct statebuf *sb, void *p, size_t n);
/* True when everything was read and nothing went wrong. */
bool statebuf_done(const struct statebuf *sb);

#endif
