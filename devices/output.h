/* SPDX-License-Identifier: MIT */
/*
 * Where a device's output goes (a UART's lines): a bounded buffer and a
 * thread of its own that does the writing, so a reader that stalls (a full
 * pipe, a stuck journal, a slow disk) never holds up the event loop. What
 * does not fit the buffer is dropped whole and counted. The thread and, for
 * a path, the file come into being with the first write: a device created
 * only to validate a config touches nothing.
 */
#ifndef OUTPUT_H
#define OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long output_free lets queued output go out before dropping it. */
#define OUTPUT_DRAIN_MS 200

struct output;

/* Writes to fd, which stays the caller's. Every caller for one fd shares
 * one output (the first one's capacity), freed with its last user; lines
 * of different callers interleave whole. Create and free from one thread
 * (the event loop's). */
struct output *output_new_fd(int fd, size_t capacity);
/* Appends to path, created on the first write. While nothing is queued a
 * line goes straight into the file (it does not block: the file is
 * opened non-blocking); the writer only takes what the file refuses. */
struct output *output_new_path(const char *path, size_t capacity);
void output_free(struct output *o);

/* Queues len bytes, all or nothing; never blocks on the reader. Returns 0,
 * or -1 when they were dropped. */
int output_write(struct output *o, const void *data, size_t len);
/* Bytes dropped so far by every user: the buffer was full or the writes
 * failed. */
uint64_t output_dropped(struct output *o);
/* The errno of the first failure since the last call, or 0. */
int output_take_error(struct output *o);

#endif
