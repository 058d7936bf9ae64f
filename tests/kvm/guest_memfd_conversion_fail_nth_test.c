// SPDX-License-Identifier: GPL-2.0
/*
 * Inject allocation failures into KVM_GMEM_CONVERT_SHARED/PRIVATE and
 * KVM_CREATE_GUEST_MEMFD with fail-nth
 * (Documentation/fault-injection/fault-injection.rst) and check that every
 * call is all or nothing.
 *
 * For n = 1, 2, ...: lay out the initial states from scratch, fail the n-th
 * fault site of the conversion (and, in a second pass, every site after it,
 * through make-it-fail, so that a failed GFP_NOWAIT allocation is not rescued
 * by its GFP_KERNEL retry), and check that the call either converted exactly
 * the range or failed with ENOMEM, error_offset = offset, and left every page
 * as it was: the host probes each page's state through an mmap() of the
 * guest_memfd (SIGBUS: private) and its contents, and a vCPU reads every
 * probed page through a gmem-only memslot, which hangs if a failed call left
 * KVM's invalidation unbalanced.  The loop ends at the first n that the call
 * no longer reaches; the number of ENOMEM failures must not be zero.  Each
 * case splits a run of a 1GiB file across nodes of the state xarray, so that
 * it has to allocate: unaligned ranges, one page, the tail, and across many
 * runs.  A round trip must merge the runs again, and no call may WARN
 * (TAINT_WARN).
 *
 * Needs CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and
 * CONFIG_FAULT_INJECTION_DEBUG_FS.  The debugfs settings are restored at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/falloc.h>
#include <linux/sizes.h>

#include "kselftest_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define FAIL_NTH_FILE		"/proc/thread-self/fail-nth"
#define MAKE_IT_FAIL_FILE	"/proc/thread-self/make-it-fail"
#define MAX_NTH			10000

#define GMEM_GPA		SZ_4G
#define GMEM_SLOT		1

#define NR_PAGES		(SZ_1G / 4096)

/* The window of alternating pages of a fragmented file, and two flipped runs. */
#define FRAG_START		1000
#define FRAG_END		1064
#define FRAG_RUN1		2048
#define FRAG_RUN1_END		2148
#define FRAG_RUN2		131000
#define FRAG_RUN2_END		131100

#define NR_RANDOM_PROBES	32
#define MAX_PROBES		(4 * 10 + FRAG_END - FRAG_START + NR_RANDOM_PROBES)

static size_t page_size;

/*
 * Debugfs knobs set for the run and restored at exit.  fail-nth fails one
 * fault site, whatever probability says.  Once it has fired, the other
 * settings apply: they fail every site hit by a task whose make-it-fail is 1,
 * which only the test sets, and only around the call in "from n on" mode.
 */
static const struct {
	const char *path;
	const char *value;
} knobs[] = {
	{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/failslab/verbose", "0" },
	{ "/sys/kernel/debug/failslab/task-filter", "Y" },
	{ "/sys/kernel/debug/failslab/interval", "1" },
	{ "/sys/kernel/debug/failslab/times", "-1" },
	{ "/sys/kernel/debug/failslab/space", "0" },
	{ "/sys/kernel/debug/failslab/probability", "100" },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/min-order", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/task-filter", "Y" },
	{ "/sys/kernel/debug/fail_page_alloc/interval", "1" },
	{ "/sys/kernel/debug/fail_page_alloc/times", "-1" },
	{ "/sys/kernel/debug/fail_page_alloc/space", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/probability", "100" },
};

static char saved_knobs[ARRAY_SIZE(knobs)][32];
static pid_t main_pid;

static void write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);

	TEST_ASSERT(fd >= 0, "open(%s) should succeed: %s", path, strerror(errno));
	TEST_ASSERT(write(fd, value, strlen(value)) == strlen(value),
		    "Writing '%s' to %s should succeed: %s", value, path,
		    strerror(errno));
	close(fd);
}

static void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t len;

	TEST_ASSERT(fd >= 0, "open(%s) should succeed: %s", path, strerror(errno));
	len = read(fd, buf, size - 1);
	TEST_ASSERT(len > 0, "Reading %s should succeed: %s", path, strerror(errno));
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	close(fd);
}

static void restore_knobs(void)
{
	int i;

	/* Not in the harness' child processes: the other tests need them. */
	if (getpid() != main_pid)
		return;

	/* Probability first: nothing may fail with half-restored settings. */
	for (i = ARRAY_SIZE(knobs) - 1; i >= 0; i--) {
		if (saved_knobs[i][0])
			write_file(knobs[i].path, saved_knobs[i]);
	}
}

static void setup_knobs(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		read_file(knobs[i].path, saved_knobs[i], sizeof(saved_knobs[i]));
		write_file(knobs[i].path, knobs[i].value);
	}
	main_pid = getpid();
	atexit(restore_knobs);
}

/*
 * Make the @nth fault site hit by this thread fail and, if @mif_fd >= 0, every
 * site after it, too.
 */
static void arm_fail_nth(int nth_fd, int mif_fd, int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", nth);

	/* make-it-fail first: once fail-nth is armed, every site counts. */
	if (mif_fd >= 0)
		TEST_ASSERT(pwrite(mif_fd, "1", 1, 0) == 1,
			    "Writing 1 to %s should succeed: %s",
			    MAKE_IT_FAIL_FILE, strerror(errno));
	TEST_ASSERT(pwrite(nth_fd, buf, len, 0) == len,
		    "Writing %d to %s should succeed: %s", nth, FAIL_NTH_FILE,
		    strerror(errno));
}

/* Disarm fail-nth; returns true if the @nth fault was injected. */
static bool disarm_fail_nth(int nth_fd, int mif_fd)
{
	char buf[16];
	ssize_t len;

	if (mif_fd >= 0)
		TEST_ASSERT(pwrite(mif_fd, "0", 1, 0) == 1,
			    "Writing 0 to %s should succeed: %s",
			    MAKE_IT_FAIL_FILE, strerror(errno));

	len = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	TEST_ASSERT(len > 0, "Reading %s should succeed: %s", FAIL_NTH_FILE,
		    strerror(errno));
	buf[len] = '\0';
	TEST_ASSERT(pwrite(nth_fd, "0", 1, 0) == 1,
		    "Writing 0 to %s should succeed: %s", FAIL_NTH_FILE,
		    strerror(errno));

	return !atoi(buf);
}

static int open_rw(const char *path)
{
	int fd = open(path, O_RDWR);

	TEST_ASSERT(fd >= 0, "open(%s) should succeed: %s", path, strerror(errno));
	return fd;
}

/* Page contents: a pattern in the first and last word of probed pages. */
static u64 pattern(u64 page)
{
	return 0xa110c00000000000ULL | page;
}

/* The vCPU reads the first word of every probed page. */
static u64 guest_probes[MAX_PROBES], guest_vals[MAX_PROBES];
static u64 guest_nr_probes;

static void guest_code(void)
{
	u64 i;

	for (;;) {
		for (i = 0; i < READ_ONCE(guest_nr_probes); i++)
			guest_vals[i] = READ_ONCE(*(u64 *)(GMEM_GPA + guest_probes[i] * PAGE_SIZE));
		GUEST_SYNC(0);
	}
}

/* Whether the kernel has WARNed (TAINT_WARN, bit 9 of the taint flags). */
static bool kernel_warned(void)
{
	char buf[32];

	read_file("/proc/sys/kernel/tainted", buf, sizeof(buf));
	return strtoul(buf, NULL, 10) & BIT(9);
}

enum layout {
	UNIFORM,
	FRAGMENTED,
};

FIXTURE(fail_nth) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int fd;
	int nth_fd;
	int mif_fd;
	u8 *mem;
	bool *shared;		/* expected state of every page */
	bool *init_shared;	/* state before each injected call */
	u64 *probes;		/* pages whose state and contents are checked */
	u64 nr_probes;
};

/* Every case has to allocate: it splits runs across xarray nodes. */
FIXTURE_VARIANT(fail_nth) {
	bool init_shared;
	enum layout layout;
	bool to_private;
	u64 first;
	u64 nr;			/* 0: up to the end of the file */
};

FIXTURE_VARIANT_ADD(fail_nth, split_to_private) {
	.init_shared = true,
	.layout = UNIFORM,
	.to_private = true,
	.first = 0x12345,
	.nr = 0x777,
};

FIXTURE_VARIANT_ADD(fail_nth, split_to_shared) {
	.init_shared = false,
	.layout = UNIFORM,
	.to_private = false,
	.first = 0x12345,
	.nr = 0x777,
};

FIXTURE_VARIANT_ADD(fail_nth, one_page_to_shared) {
	.init_shared = false,
	.layout = UNIFORM,
	.to_private = false,
	.first = 0x20001,
	.nr = 1,
};

FIXTURE_VARIANT_ADD(fail_nth, tail_to_private) {
	.init_shared = true,
	.layout = UNIFORM,
	.to_private = true,
	.first = 0x3ffff,
	.nr = 0,
};

FIXTURE_VARIANT_ADD(fail_nth, fragmented_tail_to_shared) {
	.init_shared = false,
	.layout = FRAGMENTED,
	.to_private = false,
	.first = 5,
	.nr = 0,
};

static u64 range_end(const FIXTURE_VARIANT(fail_nth) *variant)
{
	return variant->nr ? variant->first + variant->nr : NR_PAGES;
}

static void convert(int fd, u64 first, u64 end, bool shared)
{
	if (shared)
		gmem_convert_shared(fd, first * page_size, (end - first) * page_size);
	else
		gmem_convert_private(fd, first * page_size, (end - first) * page_size);
}

/* Bring [first, end) to the states in @want, one ioctl per run. */
static void convert_runs(int fd, const bool *want, u64 first, u64 end)
{
	u64 i, run;

	for (i = first; i < end; i = run) {
		for (run = i + 1; run < end && want[run] == want[i]; run++)
			;
		convert(fd, i, run, want[i]);
	}
}

/* Returns true and the first and last word if the host can read @page. */
static bool read_page(u8 *mem, u64 page, u64 *first, u64 *last)
{
	return host_read_u64(mem + page * page_size, first) &&
	       host_read_u64(mem + (page + 1) * page_size - 8, last);
}

/*
 * The host sees each probed page in its expected state with its data; the
 * vCPU reads the data in either state.
 */
static void check_probes(FIXTURE_DATA(fail_nth) *self, const char *when)
{
	u64 first = 0, last = 0, page, i;
	bool shared;

	for (i = 0; i < self->nr_probes; i++) {
		page = self->probes[i];
		shared = read_page(self->mem, page, &first, &last);
		TEST_ASSERT(shared == self->shared[page],
			    "%s: page 0x%lx should be %s, but is %s", when, page,
			    self->shared[page] ? "shared" : "private",
			    shared ? "shared" : "private");
		TEST_ASSERT(!shared || (first == pattern(page) && last == pattern(page)),
			    "%s: page 0x%lx should hold 0x%lx, got 0x%lx and 0x%lx",
			    when, page, pattern(page), first, last);
	}

	vcpu_run(self->vcpu);
	TEST_ASSERT_EQ(get_ucall(self->vcpu, NULL), UCALL_SYNC);
	sync_global_from_guest(self->vm, guest_vals);
	for (i = 0; i < self->nr_probes; i++)
		TEST_ASSERT(guest_vals[i] == pattern(self->probes[i]),
			    "%s: the vCPU read 0x%lx from page 0x%lx, expected 0x%lx",
			    when, guest_vals[i], self->probes[i],
			    pattern(self->probes[i]));
}

static void add_probe(FIXTURE_DATA(fail_nth) *self, s64 page)
{
	if (page >= 0 && page < NR_PAGES)
		self->probes[self->nr_probes++] = page;
}

/* The pages around every boundary, the fragments, and random ones. */
static void setup_probes(FIXTURE_DATA(fail_nth) *self,
			 const FIXTURE_VARIANT(fail_nth) *variant)
{
	const s64 edges[] = {
		0, variant->first, range_end(variant), NR_PAGES,
		FRAG_START, FRAG_END, FRAG_RUN1, FRAG_RUN1_END, FRAG_RUN2,
		FRAG_RUN2_END,
	};
	struct kvm_random_state rng = new_kvm_random_state(12345);
	u64 i;
	int j;

	for (j = 0; j < ARRAY_SIZE(edges); j++) {
		add_probe(self, edges[j] - 2);
		add_probe(self, edges[j] - 1);
		add_probe(self, edges[j]);
		add_probe(self, edges[j] + 1);
	}
	if (variant->layout == FRAGMENTED) {
		for (i = FRAG_START; i < FRAG_END; i++)
			add_probe(self, i);
	}
	for (j = 0; j < NR_RANDOM_PROBES; j++)
		add_probe(self, kvm_random_u32(&rng) % NR_PAGES);
}

/*
 * Lay out the initial states from scratch.  Conversions leave the state's
 * xarray split where they converted, even when they failed or were undone,
 * and the next conversion of the range wouldn't need to allocate: convert
 * the whole file both ways first, which stores one entry for all of it and
 * frees every node below, then convert the fragments.
 */
static void layout_pages(FIXTURE_DATA(fail_nth) *self,
			 const FIXTURE_VARIANT(fail_nth) *variant)
{
	convert(self->fd, 0, NR_PAGES, !variant->init_shared);
	convert(self->fd, 0, NR_PAGES, variant->init_shared);

	if (variant->layout == FRAGMENTED) {
		convert_runs(self->fd, self->init_shared, FRAG_START, FRAG_END);
		convert_runs(self->fd, self->init_shared, FRAG_RUN1, FRAG_RUN1_END);
		convert_runs(self->fd, self->init_shared, FRAG_RUN2, FRAG_RUN2_END);
	}

	memcpy(self->shared, self->init_shared, NR_PAGES);
	check_probes(self, "After laying out the initial states");
}

FIXTURE_SETUP(fail_nth)
{
	const struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = KVM_X86_SW_PROTECTED_VM,
	};
	u64 i, page, flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

	self->vm = vm_create_shape_with_one_vcpu(shape, &self->vcpu, guest_code);
	self->fd = vm_create_guest_memfd(self->vm, SZ_1G, flags);
	vm_set_user_memory_region2(self->vm, GMEM_SLOT, KVM_MEM_GUEST_MEMFD,
				   GMEM_GPA, SZ_1G, NULL, self->fd, 0);
	virt_map_level(self->vm, GMEM_GPA, GMEM_GPA, SZ_1G, PG_LEVEL_1G);
	self->mem = kvm_mmap(SZ_1G, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd);
	self->shared = calloc(NR_PAGES, 1);
	self->init_shared = calloc(NR_PAGES, 1);
	self->probes = calloc(MAX_PROBES, sizeof(u64));
	TEST_ASSERT(self->shared && self->init_shared && self->probes,
		    "calloc() should succeed");

	setup_probes(self, variant);
	memcpy(guest_probes, self->probes, self->nr_probes * sizeof(u64));
	guest_nr_probes = self->nr_probes;
	sync_global_to_guest(self->vm, guest_probes);
	sync_global_to_guest(self->vm, guest_nr_probes);

	/* The initial states, and the pattern in every probed page. */
	for (i = 0; i < NR_PAGES; i++)
		self->init_shared[i] = variant->init_shared;
	if (variant->layout == FRAGMENTED) {
		for (i = FRAG_START; i < FRAG_END; i += 2)
			self->init_shared[i] = !variant->init_shared;
		for (i = FRAG_RUN1; i < FRAG_RUN1_END; i++)
			self->init_shared[i] = !variant->init_shared;
		for (i = FRAG_RUN2; i < FRAG_RUN2_END; i++)
			self->init_shared[i] = !variant->init_shared;
	}
	for (i = 0; i < self->nr_probes; i++) {
		page = self->probes[i];
		*(u64 *)(self->mem + page * page_size) = pattern(page);
		*(u64 *)(self->mem + (page + 1) * page_size - 8) = pattern(page);
	}

	self->nth_fd = open_rw(FAIL_NTH_FILE);
	self->mif_fd = open_rw(MAKE_IT_FAIL_FILE);
}

FIXTURE_TEARDOWN(fail_nth)
{
	TEST_ASSERT(!kernel_warned(), "The kernel WARNed (TAINT_WARN is set)");
	close(self->mif_fd);
	close(self->nth_fd);
	kvm_munmap(self->mem, SZ_1G);
	close(self->fd);
	kvm_vm_free(self->vm);
	free(self->probes);
	free(self->init_shared);
	free(self->shared);
}

/*
 * Fail the n-th fault site of the conversion, n = 1, 2, ..., and, if
 * @following, every site after it as well.
 */
static void nth_loop(FIXTURE_DATA(fail_nth) *self,
		     const FIXTURE_VARIANT(fail_nth) *variant, bool following)
{
	const u64 first = variant->first, end = range_end(variant);
	const bool to_shared = !variant->to_private;
	int mif_fd = following ? self->mif_fd : -1;
	int nth, nr_enomem = 0, nr_tolerated = 0;
	u64 error_offset, i;
	char when[96];
	bool injected;
	int r, err;

	for (nth = 1; nth <= MAX_NTH; nth++) {
		layout_pages(self, variant);

		error_offset = 0;
		arm_fail_nth(self->nth_fd, mif_fd, nth);
		if (to_shared)
			r = __gmem_convert_shared(self->fd, first * page_size,
						  (end - first) * page_size,
						  &error_offset);
		else
			r = __gmem_convert_private(self->fd, first * page_size,
						   (end - first) * page_size,
						   &error_offset);
		err = errno;
		injected = disarm_fail_nth(self->nth_fd, mif_fd);

		snprintf(when, sizeof(when), "After the call failing site %d%s (%s)",
			 nth, following ? " and on" : "", r ? "failed" : "succeeded");

		if (r) {
			TEST_ASSERT(injected && err == ENOMEM &&
				    error_offset == first * page_size,
				    "Conversion [0x%lx, 0x%lx) failing site %d%s should fail only with an injected fault, ENOMEM and error_offset 0x%lx; got errno %d (%s), error_offset 0x%lx, injected %d",
				    first, end, nth, following ? " and on" : "",
				    first * page_size, err, strerror(err),
				    error_offset, injected);
			nr_enomem++;
			check_probes(self, when);
			continue;
		}

		for (i = first; i < end; i++)
			self->shared[i] = to_shared;
		check_probes(self, when);

		if (!injected)
			break;
		nr_tolerated++;
	}
	TEST_ASSERT(nth <= MAX_NTH, "The conversion should succeed without a fault within %d calls",
		    MAX_NTH);
	TEST_ASSERT(!following || nr_enomem,
		    "Conversion [0x%lx, 0x%lx) never failed with ENOMEM: no allocation was injected",
		    first, end);

	/* N: the first n that no longer hits a fault site in the call. */
	ksft_print_msg("%s [0x%lx, 0x%lx), site n%s: N %d, %d ENOMEM, %d ok\n",
		       to_shared ? "CONVERT_SHARED" : "CONVERT_PRIVATE", first,
		       end, following ? " and on" : " only", nth, nr_enomem,
		       nr_tolerated);
}

TEST_F_TIMEOUT(fail_nth, convert, 120)
{
	nth_loop(self, variant, false);
	nth_loop(self, variant, true);
}

FIXTURE(create) {
	struct kvm_vm *vm;
	int nth_fd;
	int mif_fd;
};

FIXTURE_SETUP(create)
{
	self->vm = vm_create_barebones_type(KVM_X86_SW_PROTECTED_VM);
	self->nth_fd = open_rw(FAIL_NTH_FILE);
	self->mif_fd = open_rw(MAKE_IT_FAIL_FILE);
}

FIXTURE_TEARDOWN(create)
{
	TEST_ASSERT(!kernel_warned(), "The kernel WARNed (TAINT_WARN is set)");
	close(self->mif_fd);
	close(self->nth_fd);
	kvm_vm_free(self->vm);
}

/* KVM_CREATE_GUEST_MEMFD stores the initial state of the whole file. */
TEST_F_TIMEOUT(create, guest_memfd, 120)
{
	const u64 flags[] = {
		GUEST_MEMFD_FLAG_MMAP,
		GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
	};
	int nth, fd, err, i, nr_failed, mif_fd;
	bool injected;
	u8 *mem;

	for (i = 0; i < 2 * ARRAY_SIZE(flags); i++) {
		mif_fd = i & 1 ? self->mif_fd : -1;
		nr_failed = 0;
		for (nth = 1; nth <= MAX_NTH; nth++) {
			arm_fail_nth(self->nth_fd, mif_fd, nth);
			fd = __vm_create_guest_memfd(self->vm, SZ_1G + 3 * page_size,
						     flags[i / 2]);
			err = errno;
			injected = disarm_fail_nth(self->nth_fd, mif_fd);

			if (fd < 0) {
				TEST_ASSERT(injected && err == ENOMEM,
					    "KVM_CREATE_GUEST_MEMFD with fail-nth %d should fail only with an injected fault and ENOMEM, got errno %d (%s), injected: %d",
					    nth, err, strerror(err), injected);
				nr_failed++;
				continue;
			}

			/* The file works, and its state is the initial one. */
			mem = kvm_mmap(page_size, PROT_READ | PROT_WRITE,
				       MAP_SHARED, fd);
			if (flags[i / 2] & GUEST_MEMFD_FLAG_INIT_SHARED)
				TEST_ASSERT(!READ_ONCE(*mem), "A new page should be zero");
			else
				TEST_EXPECT_SIGBUS(READ_ONCE(*mem));
			gmem_convert_private(fd, page_size, page_size);
			gmem_convert_shared(fd, 0, SZ_1G);
			kvm_munmap(mem, page_size);
			close(fd);

			if (!injected)
				break;
		}
		TEST_ASSERT(nth <= MAX_NTH,
			    "KVM_CREATE_GUEST_MEMFD should succeed without a fault within %d calls",
			    MAX_NTH);
		TEST_ASSERT(mif_fd < 0 || nr_failed,
			    "KVM_CREATE_GUEST_MEMFD never failed with ENOMEM: no allocation was injected");
		ksft_print_msg("KVM_CREATE_GUEST_MEMFD flags 0x%lx, site n%s: N %d, %d ENOMEM\n",
			       flags[i / 2], mif_fd >= 0 ? " and on" : " only",
			       nth, nr_failed);
	}
}

/*
 * A round trip merges the runs again: once a page in the middle of a uniform
 * file is converted and converted back, the file is one run, and converting
 * the page again has to split that run, which fails while every allocation
 * fails.  Without the merge, the state xarray would keep the history of
 * conversions, and the page's entry would still be split.
 */
TEST_F(create, round_trip_merges_runs)
{
	const u64 offset = SZ_512M + 5 * page_size;
	u64 error_offset = 0;
	int fd, r, err;

	fd = vm_create_guest_memfd(self->vm, SZ_1G, GUEST_MEMFD_FLAG_MMAP |
				   GUEST_MEMFD_FLAG_INIT_SHARED);
	gmem_convert_private(fd, offset, page_size);
	gmem_convert_shared(fd, offset, page_size);

	arm_fail_nth(self->nth_fd, self->mif_fd, 1);
	r = __gmem_convert_private(fd, offset, page_size, &error_offset);
	err = errno;
	disarm_fail_nth(self->nth_fd, self->mif_fd);
	TEST_ASSERT(r == -1 && err == ENOMEM && error_offset == offset,
		    "After a round trip the page's run should be merged, so converting it again should split it and fail with ENOMEM while every allocation fails, rc: %i errno: %i (%s) error_offset: 0x%lx",
		    r, err, strerror(err), error_offset);
	close(fd);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GMEM_CONVERSION));
	__TEST_REQUIRE(!access(FAIL_NTH_FILE, R_OK | W_OK),
		       "%s is needed (CONFIG_FAULT_INJECTION): %s", FAIL_NTH_FILE,
		       strerror(errno));
	__TEST_REQUIRE(!access("/sys/kernel/debug/failslab", F_OK) &&
		       !access("/sys/kernel/debug/fail_page_alloc", F_OK),
		       "failslab and fail_page_alloc in debugfs are needed (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS)");

	/* fail-nth counts every fault site, user copies included. */
	__TEST_REQUIRE(access("/sys/kernel/debug/fail_usercopy", F_OK),
		       "CONFIG_FAULT_INJECTION_USERCOPY makes copies fail too: not supported");
	__TEST_REQUIRE(!kernel_warned(),
		       "The kernel has WARNed already: a new WARN couldn't be seen");

	page_size = getpagesize();
	setup_knobs();

	return test_harness_run(argc, argv);
}
