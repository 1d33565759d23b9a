/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <string.h>

#include "statebuf.h"

void statebuf_init(struct statebuf *sb, void *data, size_t cap)
{
	sb->data = data;
	sb->len = 0;
	sb->cap = cap;
	sb->error = false;
}

/* Room for n more bytes, else the error flag. */
static bool statebuf_room(struct statebuf *sb, size_t n)
{
	if (sb->error || n > sb->cap - sb->len) {
		sb->error = true;
		return false;
	}
	return true;
}

/* The low n bytes of v, little-endian: one copy on little-endian hosts
 * (a save runs after every wake-up), byte by byte elsewhere. */
static void statebuf_put(struct statebuf *sb, uint64_t v, unsigned int n)
{
	if (!statebuf_room(sb, n))
		return;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(sb->data + sb->len, &v, n);
	sb->len += n;
#else
	for (unsigned int i = 0; i < n; i++)
		sb->data[sb->len++] = (uint8_t)(v >> (8 * i));
#endif
}

static uint64_t statebuf_get(struct statebuf *sb, unsigned int n)
{
	uint64_t v = 0;
	unsigned int i;

	if (!statebuf_room(sb, n))
		return 0;
	for (i = 0; i < n; i++)
		v |= (uint64_t)sb->data[sb->len++] << (8 * i);
	return v;
}

void statebuf_put_u8(struct statebuf *sb, uint8_t v)
{
	statebuf_put(sb, v, 1);
}

void statebuf_put_u32(struct statebuf *sb, uint32_t v)
{
	statebuf_put(sb, v, 4);
}

void statebuf_put_u64(struct statebuf *sb, uint64_t v)
{
	statebuf_put(sb, v, 8);
}

/* Rewrites n bytes written earlier at at. */
static void statebuf_set(struct statebuf *sb, size_t at, uint64_t v,
			 unsigned int n)
{
	size_t len = sb->len;

	if (at > len || n > len - at) {
		sb->error = true;
		return;
	}
	sb->len = at;
	statebuf_put(sb, v, n);
	sb->len = len;
}

void statebuf_set_u32(struct statebuf *sb, size_t at, uint32_t v)
{
	statebuf_set(sb, at, v, 4);
}

void statebuf_set_u64(struct statebuf *sb, size_t at, uint64_t v)
{
	statebuf_set(sb, at, v, 8);
}

void statebuf_put_bytes(struct statebuf *sb, const void *p, size_t n)
{
	if (n == 0 || !statebuf_room(sb, n))
		return;
	memcpy(sb->data + sb->len, p, n);
	sb->len += n;
}

uint8_t statebuf_get_u8(struct statebuf *sb)
{
	return (uint8_t)statebuf_get(sb, 1);
}

uint32_t statebuf_get_u32(struct statebuf *sb)
{
	return (uint32_t)statebuf_get(sb, 4);
}

uint64_t statebuf_get_u64(struct statebuf *sb)
{
	return statebuf_get(sb, 8);
}

void statebuf_get_bytes(struct statebuf *sb, void *p, size_t n)
{
	if (n == 0)
		return;
	if (!statebuf_room(sb, n)) {
		memset(p, 0, n);
		return;
	}
	memcpy(p, sb->data + sb->len, n);
	sb->len += n;
}

bool statebuf_done(const struct statebuf *sb)
{
	return !sb->error && sb->len == sb->cap;
}
