/* SPDX-License-Identifier: MIT */
/*
 * Poll mode: the set of channels busy enough to be read in a loop rather
 * than waited for. A channel whose region (or the daemon) has a polling
 * window joins the set when a wake-up served frames and stays while frames
 * keep coming within its window of the previous ones. The window adapts,
 * like KVM's halt polling: it starts at 0, grows (POLLSET_GROW_NS, then
 * doubling, up to poll_us) each time an event brings frames sooner than
 * poll_us after the last ones, which a longer window would have caught,
 * and halves each time they come later; so a channel used now and then is
 * never polled, and one that is busy is polled for the whole poll_us.
 * Every window ends and starts again from 0 after a turn in which another
 * task took the daemon's CPU (an involuntary context switch): on a host
 * without a spare CPU, spinning delays the very VMM the daemon waits for.
 * Each worker thread (worker.h) has its own set. The set is served
 * round-robin, one read per channel per pass, for at most
 * POLLSET_SLICE_NS per turn of the event loop: every other fd is still
 * seen between two slices, no channel can keep the others waiting, and a
 * channel whose window ran out goes back to waiting for its event. With no
 * channel in the set the daemon sleeps in the event loop and uses no CPU.
 */
#ifndef POLLSET_H
#define POLLSET_H

#include <stdbool.h>
#include <stdint.h>

#include "ioregiond.h"

/* Longest a turn of the poll set keeps the event loop waiting. */
#define POLLSET_SLICE_NS 50000ull
/* A window that grows from 0 starts at this. */
#define POLLSET_GROW_NS 10000ull

/* An empty set for w's loop; 0, or -1 with errno when out of memory. */
int pollset_init(struct worker *w);
/* Takes every channel out of the set and frees it. */
void pollset_free(struct worker *w);
/* The longest polling window of ch, in nanoseconds (0: not polled): its
 * region's poll_us, else --poll-us, else the config's daemon poll_us. */
uint64_t pollset_window_ns(const struct channel *ch);
/* ch served frames just now, woken by its event (polled false) or found
 * by the poll set: adapts and (re)starts its window, joining the set if
 * the window is not 0. */
void pollset_touch(struct channel *ch, bool polled);
/* Takes ch out of the set (closed, or waiting for room to write). */
void pollset_remove(struct channel *ch);
/* One turn: passes over the set until it is empty or the slice is over,
 * then comes back on the next turn of the event loop if not empty.
 * Exposed for the unit tests; the event loop calls it. */
void pollset_run(struct worker *w);
uint64_t pollset_now_ns(void);

#endif
