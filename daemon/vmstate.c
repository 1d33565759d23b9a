/* SPDX-License-Identifier: MIT */
/* A VM's device state file: save every region's record, load all or none. */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devstate.h"
#include "region.h"
#include "regionset.h"
#include "tpm_backend.h"
#include "vm.h"
#include "vmstate.h"

/* Magic, version, records, length, instance id. */
#define VMSTATE_HEADER (8 + 4 + 4 + 8 + 16)
/* Room for a model's fields; as the fd store's slot. */
#define VMSTATE_REGION_MAX (4u << 20)

struct channel *vmstate_running(struct ioregiond *d, const char *vm)
{
	struct vm *v = vm_find(d, vm);
	struct channel *ch;

	if (!v)
		return NULL;
	/* channel_reap: one whose VMM is gone does not run. */
	TAILQ_FOREACH(ch, &v->channels, vm_link)
		if (channel_reap(ch) && !ch->stopped)
			return ch;
	return NULL;
}

/* This daemon's instance: VM-part records name peers by their index in
 * its config, so they load back only here. */
static const uint8_t *vmstate_instance(struct ioregiond *d)
{
	static const uint8_t zero[16];

	while (memcmp(d->instance_id, zero, sizeof(zero)) == 0)
		if (getrandom(d->instance_id, sizeof(d->instance_id), 0) < 0 &&
		    errno != EINTR)
			break;
	return d->instance_id;
}

int vmstate_check_migration(struct ioregiond *d, const char *vm,
			    bool other_daemon, char *why, size_t whylen)
{
	struct region *r;
	int idx;

	TAILQ_FOREACH(r, &d->regions, link) {
		if (!config_region_has_vm(&r->cfg, vm))
			continue;
		idx = config_region_vm_index(&r->cfg, vm);
		if (r->tpm && other_daemon &&
		    tpm_backend_is_users(r->tpm, (unsigned int)idx)) {
			snprintf(why, whylen,
				 "region %s: VM %s's TPM is an swtpm run outside the daemon (options.ctrl_sockets): its state stays with it",
				 r->cfg.name, vm);
			return -ENOTSUP;
		}
		if (other_daemon && r->cfg.nvms > 1 &&
		    !r->dev->ops->vm_part_alone) {
			snprintf(why, whylen,
				 "region %s: its %s is shared with %u other VMs, which stay on this daemon: VM %s can only move to another VMM on it",
				 r->cfg.name, r->cfg.device, r->cfg.nvms - 1,
				 vm);
			return -EXDEV;
		}
	}
	return 0;
}

static int vmstate_write(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* After each record, u32 n + n bytes: the VM's part of the region's
 * backend (a TPM's swtpm state); n is 0 for a region without one. */
static int vmstate_save_backend(struct region *r, unsigned int requester,
				struct statebuf *sb)
{
	size_t at = sb->len;
	int rc;

	statebuf_put_u32(sb, 0);
	if (r->tpm) {
		rc = tpm_backend_save_vm(r->tpm, requester, sb);
		if (rc < 0)
			return rc;
		statebuf_set_u32(sb, at, (uint32_t)(sb->len - at - 4));
	}
	return sb->error ? -ENOSPC : 0;
}

/* The record of one region, appended at *off. */
static int vmstate_save_region(struct region *r, unsigned int requester,
			       int fd, uint64_t *off, char *why, size_t whylen)
{
	unsigned int flags = DEVSTATE_MEMORY;
	size_t cap = VMSTATE_REGION_MAX;
	struct statebuf sb;
	uint8_t *buf;
	int rc;

	if (r->dev->ops->memory_fd)
		cap += r->cfg.size;
	/* A file LoadVmState would refuse is no save. */
	if (r->dev->ops->memory_fd &&
	    r->cfg.size > VMSTATE_MAX_BYTES - *off) {
		snprintf(why, whylen,
			 "region %s: its %llu bytes of memory take the VM state past the %llu bytes a load reads",
			 r->cfg.name, (unsigned long long)r->cfg.size,
			 VMSTATE_MAX_BYTES);
		return -EFBIG;
	}
	if (r->cfg.nvms > 1)
		flags |= DEVSTATE_VM_PART;
	buf = malloc(cap);
	if (!buf) {
		snprintf(why, whylen, "region %s: out of memory", r->cfg.name);
		return -ENOMEM;
	}
	statebuf_init(&sb, buf, cap);
	rc = devstate_save(r->dev, r->cfg.name, r->cfg.size, flags, requester,
			   &sb);
	if (rc == 0)
		rc = vmstate_save_backend(r, requester, &sb);
	if (rc == 0 && sb.len > VMSTATE_MAX_BYTES - *off)
		rc = -EFBIG;
	if (rc == 0)
		rc = vmstate_write(fd, buf, sb.len, *off);
	if (rc == 0)
		*off += sb.len;
	else
		snprintf(why, whylen, "region %s: saving its state: %s",
			 r->cfg.name, strerror(-rc));
	free(buf);
	return rc;
}

int vmstate_save(struct ioregiond *d, const char *vm, int *fd,
		 unsigned int *records, uint64_t *bytes, const char **kept,
		 unsigned int *nkept, char *why, size_t whylen)
{
	uint8_t head[VMSTATE_HEADER + 4 + IOREGION_NAME_MAX];
	struct statebuf sb;
	struct region *r;
	uint64_t off;
	size_t namelen = strlen(vm);
	unsigned int n = 0;
	int idx, rc, f;

	*nkept = 0;
	f = memfd_create("ioregiond-vmstate", MFD_CLOEXEC);
	if (f < 0) {
		rc = -errno;
		snprintf(why, whylen, "memfd: %s", strerror(errno));
		return rc;
	}
	off = VMSTATE_HEADER + 4 + namelen;
	TAILQ_FOREACH(r, &d->regions, link) {
		idx = config_region_vm_index(&r->cfg, vm);
		if (idx < 0)
			continue;
		/* A shared model without state of each VM has nothing that
		 * is this VM's. */
		if (r->cfg.nvms > 1 && !r->dev->ops->save_vm)
			continue;
		/* The user's swtpm keeps its TPM's state. */
		if (r->tpm && tpm_backend_is_users(r->tpm, (unsigned int)idx)) {
			if (*nkept < VMSTATE_MAX_KEPT)
				kept[(*nkept)++] = r->cfg.name;
			continue;
		}
		rc = vmstate_save_region(r, (unsigned int)idx, f, &off, why,
					 whylen);
		if (rc < 0)
			goto fail;
		n++;
	}
	statebuf_init(&sb, head, sizeof(head));
	statebuf_put_bytes(&sb, VMSTATE_MAGIC, 8);
	statebuf_put_u32(&sb, VMSTATE_VERSION);
	statebuf_put_u32(&sb, n);
	statebuf_put_u64(&sb, off);
	statebuf_put_bytes(&sb, vmstate_instance(d), 16);
	statebuf_put_u32(&sb, (uint32_t)namelen);
	statebuf_put_bytes(&sb, vm, namelen);
	rc = vmstate_write(f, head, sb.len, 0);
	if (rc < 0) {
		snprintf(why, whylen, "writing the state: %s", strerror(-rc));
		goto fail;
	}
	*fd = f;
	*records = n;
	*bytes = off;
	return 0;
fail:
	close(f);
	return rc;
}

/* The whole file in memory: a peer's memfd may shrink under a mapping. */
static int vmstate_read(int fd, uint8_t **out, size_t *len, char *why,
			size_t whylen)
{
	struct stat st;
	uint8_t *buf;
	size_t off = 0;
	ssize_t n;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "the state is not a memfd or file");
		return -EBADF;
	}
	if (st.st_size < VMSTATE_HEADER ||
	    (uint64_t)st.st_size > VMSTATE_MAX_BYTES) {
		snprintf(why, whylen,
			 "a VM state of %lld bytes: a state file has %d..%llu",
			 (long long)st.st_size, VMSTATE_HEADER,
			 VMSTATE_MAX_BYTES);
		return -EMSGSIZE;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		snprintf(why, whylen, "out of memory for %lld bytes of state",
			 (long long)st.st_size);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	*out = buf;
	*len = off;
	return 0;
}

struct vmstate_item {
	struct devstate_record rec;
	struct region *r;
	unsigned int requester;
	struct tpm_backend_vm_state tpm;	/* a TPM region's swtpm */
};

/* The backend part that follows a record (vmstate_save_backend), parsed
 * for the region the record is loaded into. */
static int vmstate_check_backend(struct statebuf *sb, struct vmstate_item *it,
				 char *why, size_t whylen)
{
	uint32_t n = statebuf_get_u32(sb);
	struct statebuf part;

	if (sb->error || n > sb->cap - sb->len) {
		snprintf(why, whylen, "region %s: its backend state is truncated",
			 it->rec.region);
		return -EBADMSG;
	}
	statebuf_init(&part, sb->data + sb->len, n);
	sb->len += n;
	if (!it->r->tpm && n == 0)
		return 0;
	if (!it->r->tpm) {
		snprintf(why, whylen,
			 "region %s: the record carries backend state the region here has no backend for",
			 it->rec.region);
		return -EINVAL;
	}
	if (tpm_backend_is_users(it->r->tpm, it->requester)) {
		snprintf(why, whylen,
			 "region %s: its TPM here is an swtpm run outside the daemon (options.ctrl_sockets): the daemon cannot load its state",
			 it->rec.region);
		return -ENOTSUP;
	}
	if (n == 0 || tpm_backend_parse_vm(&part, &it->tpm) < 0) {
		snprintf(why, whylen, "region %s: %s", it->rec.region,
			 n ? "its swtpm state does not parse" :
			     "the record carries no swtpm state for its TPM");
		return -EBADMSG;
	}
	return 0;
}

/* One record: parsed, its region found, and restored into a scratch
 * instance. */
static int vmstate_check_record(struct ioregiond *d, const char *vm,
				struct statebuf *sb, uint32_t version,
				const char *saved_vm, bool same_daemon,
				struct vmstate_item *it, char *why,
				size_t whylen)
{
	bool alone;
	int rc, idx;

	rc = devstate_parse(sb, &it->rec, why, whylen);
	if (rc < 0)
		return rc;
	it->r = regionset_find(d, it->rec.region);
	idx = it->r ? config_region_vm_index(&it->r->cfg, vm) : -1;
	if (idx < 0) {
		snprintf(why, whylen, "VM %s has no region \"%s\" on this daemon",
			 vm, it->rec.region);
		return -ENOENT;
	}
	it->requester = (unsigned int)idx;
	/* Version 1 files have no backend parts (and no TPM records). */
	if (version >= 2) {
		rc = vmstate_check_backend(sb, it, why, whylen);
		if (rc < 0)
			return rc;
	} else if (it->r->tpm) {
		snprintf(why, whylen, "region %s: the record carries no swtpm state for its TPM",
			 it->rec.region);
		return -EBADMSG;
	}
	alone = it->r->dev->ops->vm_part_alone;
	if (((it->rec.flags & DEVSTATE_VM_PART) != 0) !=
	    (it->r->cfg.nvms > 1)) {
		snprintf(why, whylen,
			 "region %s: the record is %s, the region here is %s",
			 it->rec.region,
			 it->rec.flags & DEVSTATE_VM_PART ?
				"one VM's part of a shared device" :
				"a whole device",
			 it->r->cfg.nvms > 1 ? "shared" : "the VM's alone");
		return -EINVAL;
	}
	if ((it->rec.flags & DEVSTATE_VM_PART) && !same_daemon && !alone) {
		snprintf(why, whylen,
			 "region %s: the record is VM %s's part of a device shared on another daemon (or before this daemon started): it cannot be loaded here",
			 it->rec.region, saved_vm);
		return -EXDEV;
	}
	/* Its inbox is another requester's: its messages would land in
	 * this VM's. */
	if ((it->rec.flags & DEVSTATE_VM_PART) && !alone &&
	    strcmp(saved_vm, vm) != 0) {
		snprintf(why, whylen,
			 "region %s: the record is VM %s's part of a shared device, not VM %s's",
			 it->rec.region, saved_vm, vm);
		return -EXDEV;
	}
	return devstate_validate(&it->rec, it->r->dev, it->r->cfg.options,
				 it->r->cfg.nvms, it->r->cfg.name,
				 it->r->cfg.size, it->requester, why, whylen);
}

int vmstate_load(struct ioregiond *d, const char *vm, int fd,
		 bool keep_shared, unsigned int *kept, char *why,
		 size_t whylen)
{
	struct vmstate_item *items = NULL;
	uint8_t *buf = NULL, magic[8], instance[16];
	char saved_vm[IOREGION_NAME_MAX + 1] = "";
	struct statebuf sb;
	uint32_t version, n, namelen, i, j;
	uint64_t length;
	size_t len;
	int rc, loaded = 0;

	*kept = 0;
	rc = vmstate_read(fd, &buf, &len, why, whylen);
	if (rc < 0)
		return rc;
	statebuf_init(&sb, buf, len);
	statebuf_get_bytes(&sb, magic, 8);
	version = statebuf_get_u32(&sb);
	n = statebuf_get_u32(&sb);
	length = statebuf_get_u64(&sb);
	statebuf_get_bytes(&sb, instance, 16);
	namelen = statebuf_get_u32(&sb);
	rc = -EBADMSG;
	if (memcmp(magic, VMSTATE_MAGIC, 8) != 0) {
		snprintf(why, whylen, "not a VM state file (no %s magic)",
			 VMSTATE_MAGIC);
		goto out;
	}
	if (version < 1 || version > VMSTATE_VERSION) {
		snprintf(why, whylen,
			 "VM state format version %u (this daemon reads 1 to %u)",
			 version, VMSTATE_VERSION);
		rc = -EPROTO;
		goto out;
	}
	if (sb.error || length != len || namelen > IOREGION_NAME_MAX ||
	    namelen > len - sb.len) {
		snprintf(why, whylen,
			 "the VM state says it has %llu bytes, the file has %zu",
			 (unsigned long long)length, len);
		goto out;
	}
	statebuf_get_bytes(&sb, saved_vm, namelen);
	saved_vm[namelen] = '\0';
	/* Each record takes more than 32 bytes: a count beyond that is a lie
	 * told to make us allocate. */
	if (n > (len - sb.len) / 32) {
		snprintf(why, whylen, "the VM state claims %u records in %zu bytes",
			 n, len - sb.len);
		goto out;
	}
	items = calloc(n ? n : 1, sizeof(*items));
	if (!items) {
		snprintf(why, whylen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = vmstate_check_record(d, vm, &sb, version, saved_vm,
					  memcmp(instance, vmstate_instance(d),
						 16) == 0,
					  &items[i], why, whylen);
		if (rc < 0)
			goto out;
		for (j = 0; j < i; j++) {
			if (items[j].r == items[i].r) {
				snprintf(why, whylen,
					 "region %s: two records in the VM state",
					 items[i].rec.region);
				rc = -EINVAL;
				goto out;
			}
		}
	}
	if (sb.len != len) {
		snprintf(why, whylen, "%zu bytes after the last record",
			 len - sb.len);
		rc = -EBADMSG;
		goto out;
	}
	/* Everything checked: apply all. */
	for (i = 0; i < n; i++) {
		struct region *r = items[i].r;

		if (keep_shared && (items[i].rec.flags & DEVSTATE_VM_PART)) {
			(*kept)++;
			continue;
		}
		/* The swtpm's state before the model's: a model restored in
		 * the middle of a command submits it again to that TPM. */
		if (r->tpm)
			tpm_backend_load_vm(r->tpm, items[i].requester,
					    &items[i].tpm);
		if (devstate_apply(r->dev, &items[i].rec, items[i].requester,
				   -1, why, whylen) < 0) {
			/* Passed in a scratch instance: only memory writes
			 * fail here. */
			rc = -EIO;
			goto out;
		}
		region_save(r);
		loaded++;
	}
	rc = loaded;
out:
	for (i = 0; items && i < n; i++)
		tpm_backend_vm_state_free(&items[i].tpm);
	free(items);
	free(buf);
	return rc;
}
