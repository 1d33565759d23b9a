/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include "ioregiond.h"
#include "notify.h"

void notify_region(struct ioregiond *d, const struct region *r,
		   enum notify_event ev)
{
	if (d->notify)
		d->notify(d, r, ev);
}
