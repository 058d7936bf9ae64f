// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded random fuzzer for guest_memfd with in-place conversion: it mixes
 * KVM_CREATE_GUEST_MEMFD (random flags and sizes, on a software-protected VM
 * and on a default VM), gmem-only memslots over the files, both conversion
 * ioctls with boundary and random values in every field, hole punching and
 * allocation, mmap() and host accesses, KVM_RUN of a vCPU that reads or writes
 * one page, KVM_PRE_FAULT_MEMORY, close(), dup() and fork().
 *
 * Every result is predicted from a model of the files (their shared/private
 * runs and the first word of a few "hot" pages each), their mappings and
 * their memslots, and must be exactly that: no errno is excused, ENOMEM
 * included (nothing here injects faults).  Host accesses (SIGBUS for private
 * pages and beyond EOF), guest accesses (the data, KVM_EXIT_MMIO without a
 * memslot, EFAULT and KVM_EXIT_MEMORY_FAULT once the file is released) and
 * pre-faults check the model against the kernel all along, and the hot pages
 * of every mapping once more at the end.  The calls per operation and their errnos are printed.
 *
 * Options:
 *   -n calls   number of calls to make (default 100000)
 *   -s seed    seed (default: time), printed
 *   -v         print every operation
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define MAX_FILES		8
#define MAX_FDS			3
#define NR_HOT			32

/*
 * File i can have one gmem-only memslot, id SLOT_BASE + i, at the start of
 * its part of a window the guest maps with 1GiB pages; guest accesses beyond
 * it find no memslot.
 */
#define SLOT_BASE		10
#define WINDOW_GPA		SZ_4G
#define WINDOW_SIZE		SZ_4G
#define SLOT_SPAN		(WINDOW_SIZE / MAX_FILES)
#define MAX_MAP_PAGES		4096

#define MMIO_VALUE		0x6d6d696f6d6d696fULL

enum {
	OP_CREATE,
	OP_CLOSE,
	OP_DUP,
	OP_BIND,
	OP_UNBIND,
	OP_CONVERT,
	OP_FALLOCATE,
	OP_MMAP,
	OP_MUNMAP,
	OP_TOUCH,
	OP_RUN,
	OP_PRE_FAULT,
	OP_FORK,
	NR_OPS,
};

static const struct {
	const char *name;
	int weight;
} ops[NR_OPS] = {
	[OP_CREATE]		= { "create_guest_memfd", 4 },
	[OP_CLOSE]		= { "close", 2 },
	[OP_DUP]		= { "dup", 1 },
	[OP_BIND]		= { "memslot_create", 6 },
	[OP_UNBIND]		= { "memslot_delete", 3 },
	[OP_CONVERT]		= { "convert", 30 },
	[OP_FALLOCATE]		= { "fallocate", 8 },
	[OP_MMAP]		= { "mmap", 3 },
	[OP_MUNMAP]		= { "munmap", 1 },
	[OP_TOUCH]		= { "touch", 20 },
	[OP_RUN]		= { "kvm_run", 8 },
	[OP_PRE_FAULT]		= { "pre_fault_memory", 6 },
	[OP_FORK]		= { "fork", 1 },
};

/*
 * Every errno an operation may return (api.rst's Errors tables and the man
 * pages): a result outside its list fails the test, even if predicted.
 */
static const int documented_errnos[NR_OPS][12] = {
	[OP_CREATE]		= { EINVAL, ENOMEM, EMFILE, ENFILE },
	[OP_CONVERT]		= { EINVAL, EAGAIN, ENOMEM, EINTR, EIO, EFAULT,
				    ENOTTY, EBADF },
	[OP_MMAP]		= { EACCES, EAGAIN, EBADF, EEXIST, EINVAL, ENFILE,
				    ENODEV, ENOMEM, EOVERFLOW, EPERM },
	[OP_RUN]		= { EINTR, EFAULT, EHWPOISON, ENOEXEC, EPERM },
	[OP_PRE_FAULT]		= { EINVAL, ENOENT, EINTR, EFAULT, EOPNOTSUPP,
				    EIO },
};

/* A prediction: the call fails, with any documented errno. */
#define ANY_ERROR		1

#define MAX_ERRNO		256

static u64 op_calls[NR_OPS];
static u64 touch_sigbus;
static u64 op_errors[NR_OPS][MAX_ERRNO];

struct run {
	u64 start, end;		/* pages */
	bool shared;
};

struct hot_page {
	u64 page;
	u64 val;		/* first word of the page */
};

struct gfile {
	bool used;
	bool alive;		/* not released yet: an fd or a mapping is left */
	int id;
	struct kvm_vm *vm;
	u64 flags;
	u64 size;
	u64 npages;
	int fds[MAX_FDS];
	int nr_fds;
	u8 *map;
	u64 map_first;		/* pages */
	u64 map_pages;
	bool bound;		/* has a memslot (which doesn't keep the file alive) */
	u64 bind_first;		/* pages */
	u64 bind_pages;
	struct run *runs;
	int nr_runs;
	int max_runs;
	struct hot_page hot[NR_HOT];
};

static struct kvm_vm *vm, *vm_default;
static struct kvm_vcpu *vcpu;
static struct gfile files[MAX_FILES];
static void *bad_ptr;		/* PROT_NONE */
static size_t page_size;
static struct kvm_random_state rng;
static int next_file_id = 1;
static u64 gen;
static bool verbose;

/* Guest: one access per KVM_RUN. */
struct guest_cmd {
	u64 gpa;
	u64 val;
	u64 write;
};

static struct guest_cmd guest_cmd;

/*
 * The accesses are 3-byte MOVs, hand-encoded so that the host can step over
 * one that can't complete, and simple for KVM to emulate as MMIO.
 */
static void guest_code(void)
{
	u64 v;

	for (;;) {
		v = READ_ONCE(guest_cmd.val);
		if (READ_ONCE(guest_cmd.write))
			asm volatile(".byte 0x48, 0x89, 0x10"	/* mov %rdx, (%rax) */
				     :: "a"(READ_ONCE(guest_cmd.gpa)), "d"(v) : "memory");
		else
			asm volatile(".byte 0x48, 0x8b, 0x00"	/* mov (%rax), %rax */
				     : "=a"(v) : "0"(READ_ONCE(guest_cmd.gpa)) : "memory");
		GUEST_SYNC(v);
	}
}

/* Random helpers. */
static u64 rnd(u64 n)
{
	return n ? kvm_random_u64(&rng) % n : 0;
}

static bool chance(int pct)
{
	return rnd(100) < pct;
}

/* A value near an interesting boundary, or anything. */
static u64 rnd_u64_edge(void)
{
	static const u64 edges[] = {
		0, 1, 0xfff, 0x1000, 0x1001, 0x7fffffffffffffffULL,
		0x8000000000000000ULL, 0xfffffffffffff000ULL, ~0ULL,
		SZ_2M, SZ_1G, SZ_4G,
	};

	if (chance(60))
		return edges[rnd(ARRAY_SIZE(edges))];
	return kvm_random_u64(&rng);
}

/* Results are 0 or a negative errno, as in the kernel. */
static const char *errno_name(int err)
{
	return err ? strerror(-err) : "success";
}

static bool errno_in(int err, const int *list, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (list[i] == err)
			return true;
	}
	return false;
}

/*
 * Account for a call: @err is 0 or -errno, @expect the predicted result, or
 * ANY_ERROR if the model only knows that the call fails.  Anything else fails
 * the test.  Returns true if the call succeeded.
 */
static bool check_result(int op, int err, int expect, const char *what)
{
	op_calls[op]++;
	op_errors[op][min(-err, MAX_ERRNO - 1)]++;

	if (verbose)
		pr_info("%-18s %s: %s (predicted %s)\n", ops[op].name, what,
			errno_name(err), expect == ANY_ERROR ? "an errno" :
			errno_name(expect));

	TEST_ASSERT(err == expect || (expect == ANY_ERROR && err),
		    "%s %s: got %s, expected %s", ops[op].name, what,
		    errno_name(err), expect == ANY_ERROR ? "an error" :
		    errno_name(expect));
	TEST_ASSERT(!err || errno_in(-err, documented_errnos[op],
				     ARRAY_SIZE(documented_errnos[op])),
		    "%s %s: %s isn't among the errnos documented for it",
		    ops[op].name, what, errno_name(err));
	return !err;
}

/* State runs of a file: sorted, covering [0, npages), neighbours differ. */
static void runs_init(struct gfile *f, bool shared)
{
	f->max_runs = 64;
	f->runs = calloc(f->max_runs, sizeof(*f->runs));
	TEST_ASSERT(f->runs, "calloc() should succeed");
	f->runs[0] = (struct run){ 0, f->npages, shared };
	f->nr_runs = 1;
}

static bool page_shared(struct gfile *f, u64 page)
{
	int lo = 0, hi = f->nr_runs - 1, mid;

	while (lo < hi) {
		mid = (lo + hi + 1) / 2;
		if (f->runs[mid].start <= page)
			lo = mid;
		else
			hi = mid - 1;
	}
	return f->runs[lo].shared;
}

static void runs_append(struct gfile *f, struct run *out, int *n, struct run r)
{
	if (r.start >= r.end)
		return;
	if (*n && out[*n - 1].shared == r.shared && out[*n - 1].end == r.start) {
		out[*n - 1].end = r.end;
		return;
	}
	out[(*n)++] = r;
}

/* Set [start, end) to @shared. */
static void runs_set(struct gfile *f, u64 start, u64 end, bool shared)
{
	static struct run *out;
	static int max_out;
	bool inserted = false;
	int i, n = 0;

	if (max_out < f->nr_runs + 2) {
		max_out = 2 * (f->nr_runs + 2);
		out = realloc(out, max_out * sizeof(*out));
		TEST_ASSERT(out, "realloc() should succeed");
	}

	for (i = 0; i < f->nr_runs; i++) {
		struct run r = f->runs[i];

		if (r.end <= start || r.start >= end) {
			runs_append(f, out, &n, r);
			continue;
		}
		runs_append(f, out, &n, (struct run){ r.start, start, r.shared });
		if (!inserted)
			runs_append(f, out, &n, (struct run){ start, end, shared });
		inserted = true;
		runs_append(f, out, &n, (struct run){ end, r.end, r.shared });
	}

	if (n > f->max_runs) {
		f->max_runs = 2 * n;
		f->runs = realloc(f->runs, f->max_runs * sizeof(*f->runs));
		TEST_ASSERT(f->runs, "realloc() should succeed");
	}
	memcpy(f->runs, out, n * sizeof(*out));
	f->nr_runs = n;

	TEST_ASSERT(inserted && f->runs[0].start == 0 &&
		    f->runs[n - 1].end == f->npages,
		    "The model's runs should cover the file");
}

/* Files. */
static struct gfile *file_by_fd(int fd)
{
	int i, j;

	for (i = 0; i < MAX_FILES; i++) {
		for (j = 0; files[i].used && j < files[i].nr_fds; j++) {
			if (files[i].fds[j] == fd)
				return &files[i];
		}
	}
	return NULL;
}

static struct gfile *pick_file(bool alive)
{
	int i, start = rnd(MAX_FILES);

	for (i = 0; i < MAX_FILES; i++) {
		struct gfile *f = &files[(start + i) % MAX_FILES];

		if (f->used && (!alive || f->nr_fds))
			return f;
	}
	return NULL;
}

static bool file_convertible(struct gfile *f)
{
	return f->vm == vm && (f->flags & GUEST_MEMFD_FLAG_MMAP);
}

static struct hot_page *pick_hot(struct gfile *f)
{
	return &f->hot[rnd(NR_HOT)];
}

static struct hot_page *find_hot(struct gfile *f, u64 page)
{
	int i;

	for (i = 0; i < NR_HOT; i++) {
		if (f->hot[i].page == page)
			return &f->hot[i];
	}
	return NULL;
}

static void init_hot(struct gfile *f)
{
	int i;

	for (i = 0; i < NR_HOT; i++) {
		switch (i) {
		case 0:
			f->hot[i].page = 0;
			break;
		case 1:
			f->hot[i].page = f->npages - 1;
			break;
		case 2:
			f->hot[i].page = f->npages / 2;
			break;
		default:
			/* Clusters, so that ranges around them stay small. */
			f->hot[i].page = i % 2 ? rnd(f->npages) :
				min(f->hot[i - 1].page + 1 + rnd(3), f->npages - 1);
		}
		f->hot[i].val = 0;
	}
}

/* Small files have the same page in several hot entries: update them all. */
static void hot_set(struct gfile *f, u64 page, u64 val)
{
	int i;

	for (i = 0; i < NR_HOT; i++) {
		if (f->hot[i].page == page)
			f->hot[i].val = val;
	}
}

/* Zero the hot pages in [start, end): punched or freshly allocated. */
static void hot_zero(struct gfile *f, u64 start, u64 end)
{
	int i;

	for (i = 0; i < NR_HOT; i++) {
		if (f->hot[i].page >= start && f->hot[i].page < end)
			f->hot[i].val = 0;
	}
}

static void file_release(struct gfile *f)
{
	f->alive = false;
	if (!f->bound) {
		free(f->runs);
		memset(f, 0, sizeof(*f));
	}
}

static void file_put_fd(struct gfile *f, int idx)
{
	f->fds[idx] = f->fds[--f->nr_fds];
	if (!f->nr_fds && !f->map)
		file_release(f);
}

static u64 rnd_file_size(void)
{
	switch (rnd(10)) {
	case 0:
		return rnd_u64_edge();
	case 1:
		return page_size * (1 + rnd(4)) + rnd(2) * (1 + rnd(page_size - 1));
	case 2:
		return SZ_1G;
	case 3:
		return (1ULL << (30 + rnd(12)));
	case 4:
	case 5:
		return (1 + rnd(SZ_16M / page_size)) * page_size;
	default:
		return (1 + rnd(64)) * page_size;
	}
}

static void op_create(void)
{
	struct kvm_vm *target = chance(90) ? vm : vm_default;
	u64 supported = vm_check_cap(target, KVM_CAP_GUEST_MEMFD_FLAGS);
	u64 size = rnd_file_size();
	u64 flags;
	struct gfile *f = NULL;
	int i, fd, expect;
	char what[96];

	/* Mostly convertible files. */
	switch (rnd(8)) {
	case 0:
		flags = rnd_u64_edge();
		break;
	case 1:
	case 2:
		flags = rnd(4) & (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
		break;
	default:
		flags = GUEST_MEMFD_FLAG_MMAP | (rnd(2) ? GUEST_MEMFD_FLAG_INIT_SHARED : 0);
	}

	for (i = 0; i < MAX_FILES; i++) {
		if (!files[i].used) {
			f = &files[i];
			break;
		}
	}
	if (!f)
		return;

	expect = (flags & ~supported) || !size || (s64)size < 0 ||
		 size % page_size ? -EINVAL : 0;

	fd = __vm_create_guest_memfd(target, size, flags);
	snprintf(what, sizeof(what), "size 0x%lx flags 0x%lx on the %s VM", size,
		 flags, target == vm ? "protected" : "default");
	if (!check_result(OP_CREATE, fd < 0 ? -errno : 0, expect, what) || fd < 0)
		return;

	f->used = true;
	f->alive = true;
	f->id = next_file_id++;
	f->vm = target;
	f->flags = flags;
	f->size = size;
	f->npages = size / page_size;
	f->fds[0] = fd;
	f->nr_fds = 1;
	runs_init(f, flags & GUEST_MEMFD_FLAG_INIT_SHARED);
	init_hot(f);
}

static void op_close(void)
{
	struct gfile *f = pick_file(true);
	int idx, r;

	if (!f)
		return;

	idx = rnd(f->nr_fds);
	r = close(f->fds[idx]);
	check_result(OP_CLOSE, r ? -errno : 0, 0, "a guest_memfd");
	file_put_fd(f, idx);
}

static void op_dup(void)
{
	struct gfile *f = pick_file(true);
	int fd;

	if (!f || f->nr_fds == MAX_FDS)
		return;

	fd = dup(f->fds[0]);
	check_result(OP_DUP, fd < 0 ? -errno : 0, 0, "a guest_memfd");
	f->fds[f->nr_fds++] = fd;
}

/* Memslots: file i has memslot SLOT_BASE + i, at WINDOW_GPA + i * SLOT_SPAN. */
static u64 slot_gpa(struct gfile *f)
{
	return WINDOW_GPA + (f - files) * SLOT_SPAN;
}

static void set_slot(struct gfile *f, int fd, u64 first, u64 npages)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = SLOT_BASE + (f - files),
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = slot_gpa(f),
		.memory_size = npages * page_size,
		.guest_memfd_offset = first * page_size,
		.guest_memfd = fd,
	};
	char what[96];
	int r;

	r = __vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region);
	snprintf(what, sizeof(what), "file %d pages [0x%lx, 0x%lx)", f->id,
		 first, first + npages);
	check_result(npages ? OP_BIND : OP_UNBIND, r ? -errno : 0, 0, what);
}

/* A gmem-only memslot over pages of a file, mostly around a hot page. */
static void op_bind(void)
{
	u64 max = chance(20) ? SLOT_SPAN / page_size : 64;
	struct gfile *f = pick_file(true);
	u64 npages, page;

	if (!f || f->bound || !file_convertible(f))
		return;

	page = pick_hot(f)->page;
	npages = 1 + rnd(min(f->npages, max));
	f->bind_first = min(page - min(page, rnd(npages)), f->npages - npages);
	f->bind_pages = npages;
	set_slot(f, f->fds[rnd(f->nr_fds)], f->bind_first, npages);
	f->bound = true;
}

static void op_unbind(void)
{
	struct gfile *f = &files[rnd(MAX_FILES)];

	if (!f->used || !f->bound)
		return;

	set_slot(f, -1, 0, 0);
	f->bound = false;
	if (!f->alive)
		file_release(f);
}

/* Conversion. */
static void op_convert(void)
{
	struct gfile *f = pick_file(true);
	struct kvm_gmem_convert args = {}, copy;
	bool to_shared = chance(50);
	struct hot_page *hot;
	void *argp = &args;
	int fd, r, err, expect = 0, i;
	bool reserved_set = false;
	char what[192];
	u64 n, first;

	if (!f)
		return;

	fd = f->fds[rnd(f->nr_fds)];

	/* Mostly valid ranges around hot pages. */
	hot = pick_hot(f);
	n = 1 + rnd(chance(10) ? f->npages : 16);
	first = hot->page - min(hot->page, rnd(n));
	args.offset = first * page_size;
	args.size = min(n, f->npages - first) * page_size;

	switch (rnd(16)) {
	case 0:
		args.offset = rnd_u64_edge();
		break;
	case 1:
		args.size = rnd_u64_edge();
		break;
	case 2:
		args.error_offset = rnd_u64_edge();
		break;
	case 3:
		args.reserved[rnd(ARRAY_SIZE(args.reserved))] = rnd_u64_edge();
		break;
	case 4:
		args.offset = 0;
		args.size = f->size;
		break;
	case 5:
		if (chance(30))
			argp = chance(50) ? NULL : bad_ptr;
		else if (chance(50))
			fd = vm->fd;
		else
			fd = 1000 + rnd(1000);
		break;
	}

	for (i = 0; i < ARRAY_SIZE(args.reserved); i++)
		reserved_set |= !!args.reserved[i];

	if (argp != &args) {
		expect = -EFAULT;
	} else if (fd == vm->fd) {
		expect = -ENOTTY;
	} else if (!file_by_fd(fd)) {
		expect = -EBADF;
	} else {
		expect = !file_convertible(f) || args.error_offset || reserved_set ||
			 !args.size || args.offset % page_size ||
			 args.size % page_size ||
			 args.offset + args.size < args.offset ||
			 args.offset + args.size > f->size ? -EINVAL : 0;
	}

	copy = args;
	r = ioctl(fd, to_shared ? KVM_GMEM_CONVERT_SHARED : KVM_GMEM_CONVERT_PRIVATE,
		  argp);
	err = r ? -errno : 0;
	snprintf(what, sizeof(what),
		 "%s file %d fd %d offset 0x%llx size 0x%llx error_offset 0x%llx reserved[] %s%s",
		 to_shared ? "SHARED" : "PRIVATE", f->id, fd, copy.offset, copy.size,
		 copy.error_offset,
		 reserved_set ? "set" : "0",
		 argp != &args ? " (bad pointer)" : "");
	check_result(OP_CONVERT, err, expect, what);
	if (argp != &args)
		return;

	/*
	 * Untouched on success and when KVM isn't involved; on any other
	 * failure copied back with error_offset = offset (nothing here can
	 * fail with EAGAIN).
	 */
	if (err && err != -ENOTTY && err != -EBADF)
		copy.error_offset = copy.offset;
	TEST_ASSERT(!memcmp(&args, &copy, sizeof(args)),
		    "CONVERT %s: the struct should %s, error_offset is 0x%llx",
		    what, err && err != -ENOTTY && err != -EBADF ?
		    "come back with only error_offset = offset" : "be untouched",
		    args.error_offset);

	if (!err)
		runs_set(f, args.offset / page_size,
			 (args.offset + args.size) / page_size, to_shared);
}

/* Punch holes (any size) or allocate (a few pages), around hot pages. */
static void op_fallocate(void)
{
	struct gfile *f = pick_file(true);
	bool punch = chance(70);
	u64 offset, len, n, page;
	char what[96];
	int r;

	if (!f)
		return;

	n = 1 + rnd(8);
	page = pick_hot(f)->page;
	offset = (page - min(page, rnd(n))) * page_size;
	len = min(n * page_size, f->size - offset);
	if (punch && chance(10))
		len = f->size;

	r = fallocate(f->fds[rnd(f->nr_fds)],
		      FALLOC_FL_KEEP_SIZE | (punch ? FALLOC_FL_PUNCH_HOLE : 0),
		      offset, len);
	snprintf(what, sizeof(what), "file %d %s offset 0x%lx len 0x%lx", f->id,
		 punch ? "punch" : "allocate", offset, len);
	if (check_result(OP_FALLOCATE, r ? -errno : 0, 0, what) && punch)
		hot_zero(f, offset / page_size,
			 min(f->npages, (offset + len) / page_size));
}

/* Mappings and host accesses. */
static void op_mmap(void)
{
	struct gfile *f = pick_file(true);
	struct hot_page *hot;
	int flags = MAP_SHARED, expect;
	u64 first, npages;
	char what[96];
	void *mem;

	if (!f || f->map)
		return;

	hot = pick_hot(f);
	npages = 1 + rnd(MAX_MAP_PAGES);
	first = hot->page - min(hot->page, rnd(npages));
	if (chance(5))
		flags = MAP_PRIVATE;

	expect = !(f->flags & GUEST_MEMFD_FLAG_MMAP) ? -ENODEV :
		 flags != MAP_SHARED ? -EINVAL : 0;

	mem = mmap(NULL, npages * page_size, PROT_READ | PROT_WRITE, flags,
		   f->fds[rnd(f->nr_fds)], first * page_size);
	snprintf(what, sizeof(what), "pages [0x%lx, 0x%lx)%s", first,
		 first + npages, flags == MAP_PRIVATE ? " MAP_PRIVATE" : "");
	if (!check_result(OP_MMAP, mem == MAP_FAILED ? -errno : 0, expect, what) ||
	    mem == MAP_FAILED)
		return;

	f->map = mem;
	f->map_first = first;
	f->map_pages = npages;
}

static void op_munmap(void)
{
	struct gfile *f = pick_file(false);
	int r;

	if (!f || !f->map)
		return;

	r = munmap(f->map, f->map_pages * page_size);
	check_result(OP_MUNMAP, r ? -errno : 0, 0, "a guest_memfd mapping");
	f->map = NULL;
	if (!f->nr_fds)
		file_release(f);
}

static void op_touch(void)
{
	struct gfile *f = pick_file(false);
	struct hot_page *hot;
	bool write = chance(40), expect_ok, ok;
	u64 page, val;
	u8 *p;

	if (!f || !f->map)
		return;

	/* A hot page in the mapping, or the first page beyond the file. */
	hot = pick_hot(f);
	page = hot->page;
	if (page < f->map_first || page >= f->map_first + f->map_pages) {
		if (f->map_first + f->map_pages <= f->npages)
			return;
		page = f->npages;
		hot = NULL;
	}

	expect_ok = page < f->npages && page_shared(f, page);
	val = write ? (u64)f->id << 48 | ++gen : 0;
	p = f->map + (page - f->map_first) * page_size;
	ok = write ? host_write_u64(p, val) : host_read_u64(p, &val);

	op_calls[OP_TOUCH]++;
	op_errors[OP_TOUCH][0]++;
	touch_sigbus += !ok;
	if (verbose)
		pr_info("%-18s file %d page 0x%lx %s: %s\n", ops[OP_TOUCH].name,
			f->id, page, write ? "write" : "read", ok ? "ok" : "SIGBUS");

	TEST_ASSERT(ok == expect_ok,
		    "Host %s of page 0x%lx of file %d (%lu pages, %s): %s, expected %s",
		    write ? "write" : "read", page, f->id, f->npages,
		    page >= f->npages ? "beyond EOF" :
		    page_shared(f, page) ? "shared" : "private",
		    ok ? "success" : "SIGBUS", expect_ok ? "success" : "SIGBUS");
	if (!ok || !hot)
		return;

	if (write)
		hot_set(f, page, val);
	else
		TEST_ASSERT(val == hot->val,
			    "Host read 0x%lx from page 0x%lx of file %d, expected 0x%lx",
			    val, page, f->id, hot->val);
}

/* Guest accesses and pre-faults. */
enum access_result {
	ACCESS_OK,		/* in a memslot: guest_memfd's data */
	ACCESS_NO_SLOT,		/* MMIO */
	ACCESS_DEAD_FILE,	/* the guest_memfd was released: EFAULT */
};

static bool in_window(u64 gpa)
{
	return gpa >= WINDOW_GPA && gpa < WINDOW_GPA + WINDOW_SIZE;
}

/* A gmem-only memslot takes everything from guest_memfd, even once released. */
static enum access_result classify_gpa(u64 gpa, struct gfile **fp, u64 *page)
{
	struct gfile *f = &files[(gpa - WINDOW_GPA) / SLOT_SPAN];
	u64 off = (gpa - slot_gpa(f)) / page_size;

	*fp = f;
	*page = f->bind_first + off;
	if (!f->used || !f->bound || off >= f->bind_pages)
		return ACCESS_NO_SLOT;
	return f->alive ? ACCESS_OK : ACCESS_DEAD_FILE;
}

/* A hot page of a memslot, or anywhere in the window. */
static u64 pick_guest_gpa(void)
{
	struct gfile *f = &files[rnd(MAX_FILES)];
	u64 page;

	if (f->used && f->bound && chance(80)) {
		page = pick_hot(f)->page;
		if (page >= f->bind_first && page < f->bind_first + f->bind_pages)
			return slot_gpa(f) + (page - f->bind_first) * page_size;
	}
	return slot_gpa(f) + rnd(chance(50) ? 4 : SLOT_SPAN / page_size) * page_size;
}

/*
 * The guest's access can't complete: step over it (a 3-byte MOV) and let the
 * guest report to the host as usual.
 */
static void skip_guest_access(void)
{
	struct kvm_regs regs;
	struct ucall uc;

	vcpu_regs_get(vcpu, &regs);
	regs.rip += 3;
	vcpu_regs_set(vcpu, &regs);
	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC,
		    "The guest should report after skipping its access, got exit %s",
		    exit_reason_str(vcpu->run->exit_reason));
}

static void op_run(void)
{
	struct guest_cmd *cmd = addr_gva2hva(vm, (gva_t)&guest_cmd);
	struct kvm_run *run = vcpu->run;
	enum access_result expect;
	struct hot_page *hot = NULL;
	u64 gpa = pick_guest_gpa(), page;
	struct gfile *f;
	struct ucall uc;
	int r, err;

	expect = classify_gpa(gpa, &f, &page);
	if (expect == ACCESS_OK)
		hot = find_hot(f, page);
	cmd->write = chance(40);
	cmd->gpa = gpa;
	cmd->val = (u64)0xfe << 56 | ++gen;

	do {
		r = __vcpu_run(vcpu);
		err = r ? -errno : 0;
	} while (err == -EINTR);

	op_calls[OP_RUN]++;
	op_errors[OP_RUN][min(-err, MAX_ERRNO - 1)]++;
	if (verbose)
		pr_info("%-18s %s gpa 0x%lx: %s, exit %s\n", ops[OP_RUN].name,
			cmd->write ? "write" : "read", gpa, errno_name(err),
			exit_reason_str(run->exit_reason));

	if (expect == ACCESS_DEAD_FILE) {
		TEST_ASSERT(err == -EFAULT &&
			    run->exit_reason == KVM_EXIT_MEMORY_FAULT &&
			    run->memory_fault.gpa == gpa,
			    "Guest access to gpa 0x%lx (released guest_memfd) should fail with EFAULT and KVM_EXIT_MEMORY_FAULT, got %s, exit %s",
			    gpa, errno_name(err), exit_reason_str(run->exit_reason));
		skip_guest_access();
		return;
	}

	TEST_ASSERT(!err,
		    "Guest %s of gpa 0x%lx (%s) should work, got %s, exit %s, memory fault gpa 0x%llx flags 0x%llx",
		    cmd->write ? "write" : "read", gpa,
		    expect == ACCESS_NO_SLOT ? "no memslot" :
		    page_shared(f, page) ? "shared" : "private",
		    errno_name(err), exit_reason_str(run->exit_reason),
		    run->memory_fault.gpa, run->memory_fault.flags);

	if (run->exit_reason == KVM_EXIT_MMIO || expect == ACCESS_NO_SLOT) {
		TEST_ASSERT(expect == ACCESS_NO_SLOT &&
			    run->exit_reason == KVM_EXIT_MMIO &&
			    run->mmio.phys_addr == gpa &&
			    run->mmio.is_write == cmd->write,
			    "Guest access to gpa 0x%lx %s KVM_EXIT_MMIO, got exit %s",
			    gpa, expect == ACCESS_NO_SLOT ? "(no memslot) should exit with" :
			    "(in a memslot) should not exit with",
			    exit_reason_str(run->exit_reason));
		if (!run->mmio.is_write)
			memcpy(run->mmio.data, &(u64){ MMIO_VALUE }, 8);
		vcpu_run(vcpu);
	}

	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC,
		    "Guest access to gpa 0x%lx should end in GUEST_SYNC, got exit %s",
		    gpa, exit_reason_str(run->exit_reason));

	if (expect == ACCESS_NO_SLOT && !cmd->write)
		TEST_ASSERT(uc.args[1] == MMIO_VALUE,
			    "Guest read of gpa 0x%lx without a memslot should return the MMIO data",
			    gpa);
	if (!hot)
		return;
	if (cmd->write)
		hot_set(f, page, cmd->val);
	else
		TEST_ASSERT(uc.args[1] == hot->val,
			    "Guest read 0x%lx from page 0x%lx of file %d (gpa 0x%lx, %s), expected 0x%lx",
			    uc.args[1], page, f->id, gpa,
			    page_shared(f, page) ? "shared" : "private", hot->val);
}

static int access_errno(enum access_result r)
{
	switch (r) {
	case ACCESS_NO_SLOT:
		return -ENOENT;
	case ACCESS_DEAD_FILE:
		return -EFAULT;
	default:
		return 0;
	}
}

static void op_pre_fault(void)
{
	struct kvm_pre_fault_memory range = {}, in;
	enum access_result first, cur = ACCESS_OK;
	struct gfile *f;
	u64 page, done = 0;
	int r, err, expect;
	char what[96];

	range.gpa = pick_guest_gpa();
	range.size = (1 + rnd(4)) * page_size;
	if (chance(10))
		range.padding[rnd(ARRAY_SIZE(range.padding))] = rnd_u64_edge();
	if (chance(5))
		range.flags = rnd_u64_edge();
	if (chance(5))
		range.gpa = rnd_u64_edge();
	if (chance(5))
		range.size = rnd_u64_edge();

	if (range.flags || range.gpa % page_size || range.size % page_size ||
	    range.gpa + range.size <= range.gpa) {
		expect = -EINVAL;
	} else if (!in_window(range.gpa)) {
		/* Outside the window: below it is the library's memory. */
		expect = ANY_ERROR;
	} else {
		/*
		 * Pages are mapped in order until the first failure; only a
		 * failure at the first page is reported.  Memslots never
		 * extend beyond the window.
		 */
		first = classify_gpa(range.gpa, &f, &page);
		for (done = 0; done < range.size && in_window(range.gpa + done);
		     done += page_size) {
			cur = classify_gpa(range.gpa + done, &f, &page);
			if (access_errno(cur))
				break;
		}
		expect = done ? 0 : access_errno(first);
	}

	in = range;
	r = __vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range);
	err = r ? -errno : 0;
	snprintf(what, sizeof(what), "gpa 0x%llx size 0x%llx flags 0x%llx",
		 in.gpa, in.size, in.flags);
	/* Outside the window, anything documented goes. */
	if (expect == ANY_ERROR) {
		check_result(OP_PRE_FAULT, err, err ? ANY_ERROR : 0, what);
		return;
	}
	if (!check_result(OP_PRE_FAULT, err, expect, what) || err)
		return;

	/* The range left over starts at the first page that failed. */
	TEST_ASSERT(range.gpa == in.gpa + done && range.size == in.size - done,
		    "KVM_PRE_FAULT_MEMORY %s should stop at gpa 0x%llx, stopped at 0x%llx size 0x%llx",
		    what, in.gpa + done, range.gpa, range.size);
}

/*
 * The child converts a valid range of a file through an fd it inherited,
 * checks that it can't use the VM (another mm: EIO) and reports through its
 * exit status; the conversion is visible to the parent.
 */
static void op_fork(void)
{
	struct gfile *f = pick_file(true);
	struct kvm_pre_fault_memory range = {
		.gpa = WINDOW_GPA,
		.size = page_size,
	};
	struct hot_page *hot;
	bool to_shared = chance(50);
	int status, r;
	u64 first, n;
	pid_t pid;

	if (!f || !file_convertible(f))
		return;

	hot = pick_hot(f);
	n = 1 + rnd(8);
	first = hot->page - min(hot->page, rnd(n));
	n = min(n, f->npages - first);

	fflush(NULL);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork() should succeed, errno %d", errno);
	if (!pid) {
		if (!__vcpu_ioctl(vcpu, KVM_PRE_FAULT_MEMORY, &range) || errno != EIO)
			_exit(2);
		if (to_shared)
			r = __gmem_convert_shared(f->fds[0], first * page_size,
						  n * page_size, NULL);
		else
			r = __gmem_convert_private(f->fds[0], first * page_size,
						   n * page_size, NULL);
		_exit(r ? 1 : 0);
	}

	TEST_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid() should succeed");
	op_calls[OP_FORK]++;
	op_errors[OP_FORK][0]++;
	TEST_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) != 2,
		    "The child's VM ioctl should fail with EIO (status 0x%x)", status);
	TEST_ASSERT(WIFEXITED(status) && !WEXITSTATUS(status),
		    "The child's conversion of [0x%lx, 0x%lx) to %s should succeed",
		    first, first + n, to_shared ? "shared" : "private");
	runs_set(f, first, first + n, to_shared);
}

/* Check the hot pages of every mapped file against the model once more. */
static void final_check(void)
{
	struct hot_page *hot;
	bool shared;
	int i, j;
	u64 val;

	for (i = 0; i < MAX_FILES; i++) {
		struct gfile *f = &files[i];

		if (!f->used || !f->map)
			continue;
		for (j = 0; j < NR_HOT; j++) {
			hot = &f->hot[j];
			if (hot->page < f->map_first ||
			    hot->page >= f->map_first + f->map_pages)
				continue;

			shared = page_shared(f, hot->page);
			TEST_ASSERT(host_read_u64(f->map + page_size *
						  (hot->page - f->map_first),
						  &val) == shared,
				    "Final check: page 0x%lx of file %d should be %s",
				    hot->page, f->id, shared ? "shared" : "private");
			TEST_ASSERT(!shared || val == hot->val,
				    "Final check: page 0x%lx of file %d should hold 0x%lx, got 0x%lx",
				    hot->page, f->id, hot->val, val);
		}
	}
}

static u64 total_calls(void)
{
	u64 n = 0;
	int op;

	for (op = 0; op < NR_OPS; op++)
		n += op_calls[op];
	return n;
}

static void print_stats(struct timespec elapsed, u64 nr_picks)
{
	u64 total_err[MAX_ERRNO] = {};
	int op, e;

	pr_info("%lu calls (%lu operations picked) in %ld.%03lds\n", total_calls(),
		nr_picks, elapsed.tv_sec, elapsed.tv_nsec / 1000000);
	pr_info("%-20s %10s %10s  errnos\n", "operation", "calls", "success");
	for (op = 0; op < NR_OPS; op++) {
		char line[512] = "";
		int len = 0;

		for (e = 1; e < MAX_ERRNO; e++) {
			if (!op_errors[op][e])
				continue;
			total_err[e] += op_errors[op][e];
			len += snprintf(line + len, sizeof(line) - len, " %s:%lu",
					strerrorname_np(e) ?: "?", op_errors[op][e]);
		}
		pr_info("%-20s %10lu %10lu %s\n", ops[op].name, op_calls[op],
			op_errors[op][0], line);
	}
	pr_info("(%lu of the touches raised SIGBUS, as predicted)\n", touch_sigbus);
	pr_info("errno histogram:\n");
	for (e = 1; e < MAX_ERRNO; e++) {
		if (total_err[e])
			pr_info("  %-12s %lu\n", strerrorname_np(e) ?: "?", total_err[e]);
	}
}

static void (*const handlers[NR_OPS])(void) = {
	[OP_CREATE]		= op_create,
	[OP_CLOSE]		= op_close,
	[OP_DUP]		= op_dup,
	[OP_BIND]		= op_bind,
	[OP_UNBIND]		= op_unbind,
	[OP_CONVERT]		= op_convert,
	[OP_FALLOCATE]		= op_fallocate,
	[OP_MMAP]		= op_mmap,
	[OP_MUNMAP]		= op_munmap,
	[OP_TOUCH]		= op_touch,
	[OP_RUN]		= op_run,
	[OP_PRE_FAULT]		= op_pre_fault,
	[OP_FORK]		= op_fork,
};

static void help(const char *name)
{
	printf("usage: %s [-n calls] [-s seed] [-v]\n"
	       " -n: number of calls to make (default 100000)\n"
	       " -s: random seed (default: time)\n"
	       " -v: print every operation\n", name);
}

int main(int argc, char *argv[])
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	u64 nr_calls = 100000, i;

	int total_weight = 0, op, opt, w;
	struct timespec start;
	u32 seed = time(NULL);

	while ((opt = getopt(argc, argv, "n:s:vh")) != -1) {
		switch (opt) {
		case 'n':
			nr_calls = atoi_positive("Number of calls", optarg);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
		default:
			help(argv[0]);
			exit(opt == 'h' ? 0 : 1);
		}
	}

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GMEM_CONVERSION));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_PRE_FAULT_MEMORY));

	pr_info("Seed: %u\n", seed);
	rng = new_kvm_random_state(seed % 0x7ffffffe + 1);
	page_size = getpagesize();

	vm = vm_create_shape_with_one_vcpu(shape, &vcpu, guest_code);
	vm_default = vm_create_barebones();
	TEST_REQUIRE(vm_check_cap(vm, KVM_CAP_GMEM_CONVERSION));
	virt_map_level(vm, WINDOW_GPA, WINDOW_GPA, WINDOW_SIZE, PG_LEVEL_1G);

	bad_ptr = kvm_mmap(page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1);

	for (op = 0; op < NR_OPS; op++)
		total_weight += ops[op].weight;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; total_calls() < nr_calls; i++) {
		w = rnd(total_weight);
		for (op = 0; w >= ops[op].weight; op++)
			w -= ops[op].weight;

		handlers[op]();
	}

	final_check();
	print_stats(timespec_elapsed(start), i);

	kvm_vm_free(vm_default);
	kvm_vm_free(vm);
	return 0;
}
