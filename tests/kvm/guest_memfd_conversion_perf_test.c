// SPDX-License-Identifier: GPL-2.0
/*
 * guest_memfd shared/private conversion performance test
 *
 * Measure in-place conversion and the ways VMMs convert without it, in the
 * same run on the same kernel:
 *
 *  - in-place: KVM_GMEM_CONVERT_* on a GUEST_MEMFD_FLAG_MMAP guest_memfd of
 *    a KVM_X86_SW_PROTECTED_VM, bound by a gmem-only memslot;
 *  - discard: private memory in a guest_memfd without MMAP, shared memory in
 *    anonymous memory, KVM_SET_MEMORY_ATTRIBUTES, and the other copy
 *    discarded as QEMU's kvm_convert_memory() does (PUNCH_HOLE going shared,
 *    MADV_DONTNEED going private);
 *  - discard-1m: the same in 1M memslots.  Setting attributes rechecks the 2M
 *    and 1G pages around the range (kvm_arch_post_set_memory_attributes()),
 *    but only those that lie inside one memslot: none here.  In-place
 *    conversion tracks no huge pages (guest_memfd has only 4K folios), so
 *    this baseline does the same work; its gap to "discard" is the tracking;
 *  - keep: as discard, but nothing is discarded: both copies stay populated
 *    and host memory grows toward twice the guest's size.
 *
 * Cases (-c): 1. one conversion of 4K to -m bytes, aligned or not, with
 * nothing allocated or with the range populated and mapped by the vCPU, and
 * conversions in a range of alternating shared and private pages;
 * 2. populated memory converted to shared, written by the guest, read by the
 * host, converted back and written again; 3. guest requests for 4K and 2M
 * (KVM_HC_MAP_GPA_RANGE), each chunk written after its conversion, and null
 * requests that time the exit alone; 4. host memory per guest size while
 * shared and after converting back; 5. guest faults with the state in
 * guest_memfd vs. a default VM's gmem-only memslot and vs. attributes.
 *
 * Each figure is one line, with one sample per repetition, for scripts to
 * turn into tables: "gmem_perf <figure> <model> <bytes> <unit> <sample>...".
 * The test holds no targets; a functional error (a failed ioctl, wrong data)
 * fails it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/falloc.h>
#include <linux/kvm_para.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define TEST_GPA		SZ_4G
#define TEST_SLOT		1
#define SPLIT_SLOT_SIZE		SZ_1M
/* The largest conversion of the sweep that is also run populated. */
#define SWEEP_MAPPED_MAX	SZ_2M
#define MAX_SAMPLES		25
#define MAX_FIGURES		64

/* Not a KVM flag: marks a request that the host answers without converting. */
#define MAP_GPA_NULL		BIT_ULL(32)

/* A page holds gpa ^ tag; TAG_ZERO: it holds 0, TAG_ANY: don't check. */
#define TAG_ANY			0
#define TAG_ZERO		(~0ULL)

enum model { INPLACE, DISCARD, DISCARD_1M, KEEP, NR_MODELS, DEFAULT_VM = NR_MODELS };

static const char * const model_name[] = { "in-place", "discard", "discard-1m", "keep" };

static u64 max_size = SZ_1G;
static u64 frag_size = SZ_16M;
static u64 pop_size = SZ_32M;
static u64 mem_size = SZ_64M;
static u64 guest_slice = SZ_4M;
static u64 guest_file = SZ_1G;
static u32 nr_requests = 256;
static u32 iterations = 5;
static int nr_vcpus = 1;
static const char *cases = "12345";

/* Guest */

/* A command: write [gpa, gpa + size), or flip chunks of it if chunk != 0. */
struct guest_cmd {
	u64 gpa;
	u64 size;
	u64 tag;	/* write gpa ^ tag to each page */
	u64 old_tag;	/* after checking gpa ^ old_tag */
	u64 chunk;	/* bytes per request */
	u64 nr;		/* requests, alternately shared and private */
	u64 null;	/* ask for nothing, write nothing */
};

static struct guest_cmd guest_cmds[KVM_MAX_VCPUS];

static u64 expected_value(u64 gpa, u64 tag)
{
	return tag == TAG_ZERO ? 0 : gpa ^ tag;
}

static void guest_touch(u64 gpa, u64 size, u64 tag, u64 old_tag)
{
	u64 end = gpa + size;

	for (; gpa < end; gpa += PAGE_SIZE) {
		u64 *p = (u64 *)gpa;

		if (old_tag != TAG_ANY)
			__GUEST_ASSERT(*p == expected_value(gpa, old_tag),
				       "Guest expected 0x%lx at gpa 0x%lx, got 0x%lx",
				       expected_value(gpa, old_tag), gpa, *p);
		WRITE_ONCE(*p, gpa ^ tag);
	}
}

/* Request conversions, and write each chunk after its conversion. */
static void guest_flip(struct guest_cmd *cmd)
{
	u64 nr_chunks = cmd->size / cmd->chunk;
	u64 i, gpa, attrs, ret;

	for (i = 0; i < cmd->nr; i++) {
		gpa = cmd->gpa + (i / 2 % nr_chunks) * cmd->chunk;
		attrs = i & 1 ? KVM_MAP_GPA_RANGE_ENCRYPTED :
				KVM_MAP_GPA_RANGE_DECRYPTED;
		attrs |= cmd->chunk >= SZ_2M ? KVM_MAP_GPA_RANGE_PAGE_SZ_2M :
					       KVM_MAP_GPA_RANGE_PAGE_SZ_4K;
		if (cmd->null)
			attrs |= MAP_GPA_NULL;
		ret = __kvm_hypercall_map_gpa_range(gpa, cmd->chunk, attrs);
		__GUEST_ASSERT(!ret, "MAP_GPA_RANGE gpa 0x%lx size 0x%lx failed: %ld",
			       gpa, cmd->chunk, (long)ret);
		if (!cmd->null)
			guest_touch(gpa, cmd->chunk, i + 1, TAG_ANY);
	}
}

static void guest_code(struct guest_cmd *cmd)
{
	for (;;) {
		if (READ_ONCE(cmd->chunk))
			guest_flip(cmd);
		else
			guest_touch(cmd->gpa, cmd->size, cmd->tag, cmd->old_tag);
		GUEST_SYNC(0);
	}
}

/* Host: VMs and conversions */

struct bench_vm {
	enum model model;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpus[KVM_MAX_VCPUS];
	int nr_vcpus;
	u64 size;		/* test memory at TEST_GPA, = guest_memfd size */
	int gmem_fd;
	u8 *mem;		/* shared memory: guest_memfd mapping or the copy */
	u64 serve_ns[2];	/* time spent serving requests, [shared?] */
};

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static bool has_copy(enum model model)
{
	return model == DISCARD || model == DISCARD_1M || model == KEEP;
}

/*
 * The tag the guest finds in memory that held @same before the conversion,
 * and whose other copy last held @other: in place, the data stays; "discard"
 * finds zeroes; "keep" finds the other copy.
 */
static u64 seen(enum model model, u64 same, u64 other)
{
	return model == INPLACE ? same : model == KEEP ? other : TAG_ZERO;
}

/* Add (or delete) the memslots of the test memory. */
static void bench_slots(struct bench_vm *b, bool add)
{
	u64 step = b->model == DISCARD_1M ? SPLIT_SLOT_SIZE : b->size;
	u64 off;

	for (off = 0; off < b->size; off += step)
		vm_set_user_memory_region2(b->vm, TEST_SLOT + off / step,
					   KVM_MEM_GUEST_MEMFD, TEST_GPA + off,
					   add ? step : 0, b->mem + off,
					   b->gmem_fd, off);
}

/*
 * Create a VM with @vcpus vCPUs and @size bytes of test memory at TEST_GPA,
 * backed as @model prescribes, which the guest maps with 2M pages.  It starts
 * private, as a confidential guest's, unless the VM is a default VM or
 * in-place memory is created @shared.
 */
static struct bench_vm *bench_vm_create(enum model model, u64 size, int vcpus,
					bool shared)
{
	struct vm_shape shape = {
		.mode = VM_MODE_DEFAULT,
		.type = model == DEFAULT_VM ? KVM_X86_DEFAULT_VM :
					      KVM_X86_SW_PROTECTED_VM,
	};
	struct bench_vm *b = calloc(1, sizeof(*b));
	u64 flags = 0;
	int i;

	TEST_ASSERT(b, "calloc() failed");
	b->model = model;
	b->size = size;
	b->nr_vcpus = vcpus;
	b->vm = __vm_create_with_vcpus(shape, vcpus, size / PAGE_SIZE,
				       guest_code, b->vcpus);
	for (i = 0; i < vcpus; i++)
		vcpu_args_set(b->vcpus[i], 1, (gva_t)&guest_cmds[i]);
	if (model != DEFAULT_VM)
		vm_enable_cap(b->vm, KVM_CAP_EXIT_HYPERCALL,
			      BIT(KVM_HC_MAP_GPA_RANGE));

	if (!has_copy(model))
		flags = GUEST_MEMFD_FLAG_MMAP;
	if (model == DEFAULT_VM || (model == INPLACE && shared))
		flags |= GUEST_MEMFD_FLAG_INIT_SHARED;
	b->gmem_fd = vm_create_guest_memfd(b->vm, size, flags);
	if (has_copy(model))
		b->mem = kvm_mmap(size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
	else
		b->mem = kvm_mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED,
				  b->gmem_fd);
	bench_slots(b, true);
	if (has_copy(model))
		vm_mem_set_private(b->vm, TEST_GPA, size);

	virt_map_level(b->vm, TEST_GPA, TEST_GPA, size, PG_LEVEL_2M);
	return b;
}

static void bench_vm_free(struct bench_vm *b)
{
	kvm_munmap(b->mem, b->size);
	kvm_vm_free(b->vm);
	kvm_close(b->gmem_fd);
	free(b);
}

/* Convert [@off, @off + @size) of the test memory; return the time taken. */
static u64 convert(struct bench_vm *b, u64 off, u64 size, bool shared)
{
	u64 t0 = now_ns();

	if (b->model == INPLACE) {
		if (shared)
			gmem_convert_shared(b->gmem_fd, off, size);
		else
			gmem_convert_private(b->gmem_fd, off, size);
		return now_ns() - t0;
	}

	/* As QEMU's kvm_convert_memory(): attributes first, then discard. */
	if (shared)
		vm_mem_set_shared(b->vm, TEST_GPA + off, size);
	else
		vm_mem_set_private(b->vm, TEST_GPA + off, size);
	if (b->model != KEEP && shared)
		kvm_fallocate(b->gmem_fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			      off, size);
	else if (b->model != KEEP)
		kvm_madvise(b->mem + off, size, MADV_DONTNEED);
	return now_ns() - t0;
}

/* Read one u64 per page of the (shared) test memory, check it, return the time. */
static u64 host_read(struct bench_vm *b, u64 tag)
{
	u64 t0 = now_ns(), off;

	for (off = 0; off < b->size; off += PAGE_SIZE) {
		u64 want = expected_value(TEST_GPA + off, tag);
		u64 got = READ_ONCE(*(u64 *)(b->mem + off));

		TEST_ASSERT(got == want,
			    "%s: host expected 0x%lx at gpa 0x%lx, got 0x%lx",
			    model_name[b->model], want, (u64)TEST_GPA + off, got);
	}
	return now_ns() - t0;
}

static void serve_map_gpa_range(struct bench_vm *b, struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u64 gpa = run->hypercall.args[0];
	u64 size = run->hypercall.args[1] * PAGE_SIZE;
	u64 attrs = run->hypercall.args[2];
	bool shared = !(attrs & KVM_MAP_GPA_RANGE_ENCRYPTED);

	TEST_ASSERT(run->hypercall.nr == KVM_HC_MAP_GPA_RANGE,
		    "Wanted MAP_GPA_RANGE (%u), got %llu",
		    KVM_HC_MAP_GPA_RANGE, run->hypercall.nr);
	TEST_ASSERT(gpa >= TEST_GPA && gpa + size <= TEST_GPA + b->size,
		    "MAP_GPA_RANGE [0x%lx, 0x%lx) outside test memory",
		    gpa, gpa + size);

	if (!(attrs & MAP_GPA_NULL))
		__atomic_add_fetch(&b->serve_ns[shared],
				   convert(b, gpa - TEST_GPA, size, shared),
				   __ATOMIC_RELAXED);
	run->hypercall.ret = 0;
}

/* Run @vcpu until its guest finishes the current command. */
static void run_vcpu_cmd(struct bench_vm *b, struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu);

		if (vcpu->run->exit_reason == KVM_EXIT_HYPERCALL) {
			serve_map_gpa_range(b, vcpu);
			continue;
		}

		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			return;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("Unexpected ucall %lu", uc.cmd);
		}
	}
}

/* The VM whose vCPUs run_vcpus() runs. */
static struct bench_vm *running;

static void *vcpu_thread(void *vcpu)
{
	run_vcpu_cmd(running, vcpu);
	return NULL;
}

/*
 * Give vCPU i the command @cmd at TEST_GPA + @off + i * @stride, run every
 * vCPU through it, and return the wall time.
 */
static u64 run_vcpus(struct bench_vm *b, const struct guest_cmd *cmd, u64 off,
		     u64 stride)
{
	pthread_t threads[KVM_MAX_VCPUS];
	u64 t0;
	int i;

	memset(b->serve_ns, 0, sizeof(b->serve_ns));
	for (i = 0; i < b->nr_vcpus; i++) {
		struct guest_cmd *c = addr_gva2hva(b->vm, (gva_t)&guest_cmds[i]);

		*c = *cmd;
		c->gpa = TEST_GPA + off + i * stride;
	}

	running = b;
	t0 = now_ns();
	if (b->nr_vcpus == 1) {
		/* No thread: KVM_RUN stays with the thread that created the vCPU. */
		run_vcpu_cmd(b, b->vcpus[0]);
		return now_ns() - t0;
	}
	for (i = 0; i < b->nr_vcpus; i++)
		TEST_ASSERT(!pthread_create(&threads[i], NULL, vcpu_thread, b->vcpus[i]),
			    "pthread_create() failed");
	for (i = 0; i < b->nr_vcpus; i++)
		pthread_join(threads[i], NULL);
	return now_ns() - t0;
}

/* The vCPUs write [@off, @off + @size), each its share; return the time. */
static u64 touch(struct bench_vm *b, u64 off, u64 size, u64 tag, u64 old_tag)
{
	struct guest_cmd cmd = {
		.size = size / b->nr_vcpus,
		.tag = tag,
		.old_tag = old_tag,
	};

	return run_vcpus(b, &cmd, off, cmd.size);
}

/* Output: samples are collected per figure, then printed a line each. */

static struct figure {
	char name[48];
	const char *model;
	const char *unit;
	u64 bytes;
	int n;
	double v[MAX_SAMPLES];
} figures[MAX_FIGURES];
static int nr_figures;

static void __printf(5, 6) sample(const char *model, u64 bytes,
				  const char *unit, double v,
				  const char *fmt, ...)
{
	struct figure *f;
	char name[48];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);

	for (f = figures; f < figures + nr_figures; f++) {
		if (!strcmp(f->name, name) && !strcmp(f->model, model) &&
		    f->bytes == bytes)
			break;
	}
	if (f == figures + nr_figures) {
		TEST_ASSERT(nr_figures < MAX_FIGURES, "Too many figures");
		nr_figures++;
		*f = (struct figure){ .model = model, .unit = unit, .bytes = bytes };
		strcpy(f->name, name);
	}
	TEST_ASSERT(f->n < MAX_SAMPLES, "Too many samples of %s", name);
	f->v[f->n++] = v;
}

/* One line per figure: "gmem_perf <figure> <model> <bytes> <unit> <sample>...". */
static void print_figures(void)
{
	struct figure *f;
	int i;

	for (f = figures; f < figures + nr_figures; f++) {
		printf("gmem_perf %s %s %lu %s", f->name, f->model, f->bytes,
		       f->unit);
		for (i = 0; i < f->n; i++)
			printf(" %.*f", strcmp(f->unit, "x") ? 0 : 4, f->v[i]);
		printf("\n");
	}
	nr_figures = 0;
	fflush(stdout);
}

/* 1. Sweep */

/* 4K, 16K, 64K, ... up to max_size, with 2M in between. */
static u64 next_size(u64 size)
{
	if (size < SZ_2M && size * 4 > SZ_2M)
		return SZ_2M;
	if (size == SZ_2M)
		return SZ_4M;
	return size < max_size && size * 4 > max_size ? max_size : size * 4;
}

/*
 * Convert [@off, @off + @size) to shared and back in every model, the models
 * taking turns so that drift of the emulator hits them alike, after a round
 * to warm up.  @mapped: the vCPU writes the range before each conversion, so
 * that every page is populated and mapped.  Run at least -i rounds, more
 * while they take less than a second.
 */
static void sweep_point(struct bench_vm *b[], const char *fig, u64 off,
			u64 size, bool mapped)
{
	u64 start = now_ns(), t;
	int n, m, shared;

	for (n = -1; n < MAX_SAMPLES; n++) {
		if (n >= (int)iterations && now_ns() - start >= NSEC_PER_SEC)
			break;
		for (m = 0; m < NR_MODELS; m++) {
			for (shared = 1; shared >= 0; shared--) {
				if (mapped)
					touch(b[m], off, size, shared + 1, TAG_ANY);
				t = convert(b[m], off, size, shared);
				if (n >= 0)
					sample(model_name[m], size, "ns", t, "%s.to-%s",
					       fig, shared ? "shared" : "private");
			}
		}
	}
	print_figures();
}

/* Starting from all private, make every other page of the range shared. */
static u64 fragment(struct bench_vm *b)
{
	u64 t0 = now_ns(), off;

	for (off = PAGE_SIZE; off < frag_size; off += 2 * PAGE_SIZE)
		convert(b, off, PAGE_SIZE, true);
	return now_ns() - t0;
}

/*
 * In the first -f bytes of the sweep's files: 4K conversions that fragment
 * the range into alternating pages, conversions of the whole fragmented
 * range, and a 4K conversion amid alternating pages, which in place merges
 * and splits only short runs.
 */
static void case_fragmented(struct bench_vm *b[])
{
	u64 nr = frag_size / PAGE_SIZE / 2;
	const char *name;
	int i, m;

	for (i = 0; i < (int)iterations; i++) {
		for (m = 0; m < NR_MODELS; m++) {
			name = model_name[m];
			sample(name, PAGE_SIZE, "ns", (double)fragment(b[m]) / nr,
			       "frag.fragmenting");
			sample(name, frag_size, "ns",
			       convert(b[m], 0, frag_size, false), "frag.whole.to-private");
			fragment(b[m]);
			sample(name, frag_size, "ns",
			       convert(b[m], 0, frag_size, true), "frag.whole.to-shared");
			convert(b[m], 0, frag_size, false);
		}
	}
	print_figures();

	for (m = 0; m < NR_MODELS; m++)
		fragment(b[m]);
	sweep_point(b, "frag.amid", frag_size / 2, PAGE_SIZE, false);
}

static void case_sweep(void)
{
	struct bench_vm *b[NR_MODELS];
	int mapped, unaligned, m;
	u64 size, off;
	char fig[32];

	for (m = 0; m < NR_MODELS; m++)
		b[m] = bench_vm_create(m, max_size, 1, false);

	/*
	 * Aligned: in the middle of the file (or all of it), at a multiple of
	 * the size.  Unaligned: a page before the middle, so that the range
	 * straddles the middle and starts at no 2M or 1G boundary.
	 */
	for (mapped = 0; mapped < 2; mapped++) {
		for (unaligned = 0; unaligned < 2; unaligned++) {
			snprintf(fig, sizeof(fig), "sweep.%s.%s",
				 mapped ? "mapped" : "empty",
				 unaligned ? "unaligned" : "aligned");
			for (size = SZ_4K; size <= max_size; size = next_size(size)) {
				if (mapped && size > SWEEP_MAPPED_MAX)
					break;
				if (unaligned && (size == SZ_4K || size > max_size / 2))
					continue;
				if (unaligned)
					off = max_size / 2 - PAGE_SIZE;
				else
					off = size == max_size ? 0 : max_size / 2;
				sweep_point(b, fig, off, size, mapped);
			}
		}
	}

	case_fragmented(b);
	for (m = 0; m < NR_MODELS; m++)
		bench_vm_free(b[m]);
}

/* 2. Populated memory */

static void case_populated(void)
{
	static const char * const step[] = {
		"to-shared", "guest-writes-shared", "host-reads", "to-private",
		"guest-writes-private",
	};
	static const enum model models[] = { INPLACE, DISCARD, KEEP };
	double per_gib = (double)SZ_1G / pop_size;
	struct bench_vm *b[ARRAY_SIZE(models)];
	u64 t[ARRAY_SIZE(step)], p, sh, sum;
	enum model m;
	int i, j, s;

	for (j = 0; j < ARRAY_SIZE(models); j++) {
		b[j] = bench_vm_create(models[j], pop_size, nr_vcpus, false);
		touch(b[j], 0, pop_size, 1, TAG_ZERO);
	}

	/*
	 * Round i: the memory holds tag p; the guest writes tag sh once it is
	 * shared, the host reads it, and the guest writes p + 2 once it is
	 * private again.  Before writing, the guest checks what it finds.
	 */
	for (i = 0; i < (int)iterations; i++) {
		p = 2 * i + 1;
		sh = p + 1;
		for (j = 0; j < ARRAY_SIZE(models); j++) {
			m = models[j];
			t[0] = convert(b[j], 0, pop_size, true);
			t[1] = touch(b[j], 0, pop_size, sh,
				     seen(m, p, i ? sh - 2 : TAG_ZERO));
			t[2] = host_read(b[j], sh);
			t[3] = convert(b[j], 0, pop_size, false);
			t[4] = touch(b[j], 0, pop_size, p + 2, seen(m, sh, p));
			for (s = 0, sum = 0; s < ARRAY_SIZE(step); sum += t[s++])
				sample(model_name[m], pop_size, "ns/GiB",
				       t[s] * per_gib, "pop.%s", step[s]);
			sample(model_name[m], pop_size, "ns/GiB", sum * per_gib,
			       "pop.round-trip");
		}
	}
	print_figures();
	for (j = 0; j < ARRAY_SIZE(models); j++)
		bench_vm_free(b[j]);
}

/* 3. Guest-driven */

static void case_guest_driven(void)
{
	/* 2M requests write 512 times as much memory: make fewer of them. */
	u32 nr_2m = max_t(u32, nr_requests / 32 * 2, 2);
	struct guest_cmd fill = {
		.size = guest_slice,
		.tag = 1,
		.old_tag = TAG_ZERO,
	};
	struct guest_cmd flip = {
		.size = guest_slice,
		.chunk = SZ_4K,
		.nr = 4,
	};
	struct bench_vm *b[NR_MODELS];
	const char *name;
	int i, m, d;
	u64 t;

	/*
	 * Each vCPU has -G bytes of guest_memfd, like a guest's RAM, and
	 * converts within the first -g bytes of it, written beforehand.
	 */
	for (m = 0; m < NR_MODELS; m++) {
		b[m] = bench_vm_create(m, guest_file * nr_vcpus, nr_vcpus, false);
		run_vcpus(b[m], &fill, 0, guest_file);
		/* Warm up the exit path and both conversions. */
		run_vcpus(b[m], &flip, 0, guest_file);
	}

	for (i = 0; i < (int)iterations; i++) {
		for (m = 0; m < NR_MODELS; m++) {
			name = model_name[m];
			flip.null = true;
			flip.chunk = SZ_4K;
			flip.nr = nr_requests;
			t = run_vcpus(b[m], &flip, 0, guest_file);
			sample(name, 0, "ns/req", (double)t / flip.nr, "guest.null");

			flip.null = false;
			for (; flip.chunk <= SZ_2M; flip.chunk *= 512) {
				flip.nr = flip.chunk == SZ_4K ? nr_requests : nr_2m;
				t = run_vcpus(b[m], &flip, 0, guest_file);
				sample(name, flip.chunk, "ns/req", (double)t / flip.nr,
				       "guest.request");
				for (d = 0; d < 2; d++)
					sample(name, flip.chunk, "ns/req",
					       (double)b[m]->serve_ns[d] /
					       (flip.nr / 2 * nr_vcpus),
					       "guest.vmm.to-%s", d ? "shared" : "private");
			}
		}
	}
	print_figures();
	for (m = 0; m < NR_MODELS; m++)
		bench_vm_free(b[m]);
}

/* 4. Memory */

/* Page cache, in pages: guest_memfd pages are counted there (and only there). */
static double cached_pages(void)
{
	char line[256];
	long kb = -1;
	FILE *f;
	int fd;

	/* Let RCU-deferred frees finish, fold per-CPU vmstat deltas. */
	usleep(200 * 1000);
	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			pr_info("stat_refresh: %s\n", strerror(errno));
		close(fd);
	}

	f = fopen("/proc/meminfo", "r");
	TEST_ASSERT(f, "Can't open /proc/meminfo");
	while (fgets(line, sizeof(line), f))
		sscanf(line, "Cached: %ld", &kb);
	fclose(f);
	TEST_ASSERT(kb >= 0, "No Cached: in /proc/meminfo");
	return kb / (PAGE_SIZE / SZ_1K);
}

/*
 * Host memory behind the test memory, per guest page: the resident pages of
 * the shared copy (counted with mincore()), and those plus the guest_memfd
 * pages (the growth of page cache since @before).
 */
static void measure_memory(struct bench_vm *b, double before, const char *when)
{
	double pages = b->size / PAGE_SIZE, copy = 0;
	const char *name = model_name[b->model];
	unsigned char *vec;
	u64 i;

	if (has_copy(b->model)) {
		vec = malloc(b->size / PAGE_SIZE);
		TEST_ASSERT(vec, "malloc() failed");
		TEST_ASSERT(!mincore(b->mem, b->size, vec), "mincore() failed: %s",
			    strerror(errno));
		for (i = 0; i < pages; i++)
			copy += vec[i] & 1;
		free(vec);
	}
	sample(name, b->size, "x", copy / pages, "mem.%s.copy", when);
	sample(name, b->size, "x", (cached_pages() - before + copy) / pages,
	       "mem.%s.total", when);
}

static void case_memory(void)
{
	static const enum model models[] = { INPLACE, DISCARD, KEEP };
	struct bench_vm *b;
	double before;
	enum model m;
	int j;

	for (j = 0; j < ARRAY_SIZE(models); j++) {
		m = models[j];
		b = bench_vm_create(m, mem_size, nr_vcpus, false);
		before = cached_pages();

		/* Private, as the guest boots. */
		touch(b, 0, mem_size, 1, TAG_ZERO);

		/* Everything is shared, e.g. to bounce I/O through it. */
		convert(b, 0, mem_size, true);
		touch(b, 0, mem_size, 2, seen(m, 1, TAG_ZERO));
		host_read(b, 2);
		measure_memory(b, before, "shared");

		/* And private again. */
		convert(b, 0, mem_size, false);
		touch(b, 0, mem_size, 3, seen(m, 2, 1));
		measure_memory(b, before, "after");
		bench_vm_free(b);
	}
	print_figures();
}

/* 5. Fault path */

/*
 * Time the guest writing every page of the test memory: first with nothing
 * allocated (each fault allocates and zeroes a page), then with everything
 * allocated but no guest mappings (the memslot is deleted and re-added, which
 * zaps them), i.e. KVM's fault path and the guest_memfd lookup alone.  Shared:
 * a conversion-capable VM vs. a default VM; private: the state in guest_memfd
 * vs. in the VM's attributes, both SW-protected VMs.  The VMs take turns.
 */
static void case_faults(void)
{
	static const struct {
		const char *fig, *name;
		enum model model;
		bool shared;
	} vms[] = {
		{ "fault.shared", "in-place", INPLACE, true },
		{ "fault.shared", "default-vm", DEFAULT_VM, true },
		{ "fault.private", "in-place", INPLACE, false },
		{ "fault.private", "attributes", DISCARD, false },
	};
	double pages = pop_size / PAGE_SIZE;
	struct bench_vm *b[ARRAY_SIZE(vms)];
	int i, v;
	u64 t;

	for (v = 0; v < ARRAY_SIZE(vms); v++) {
		b[v] = bench_vm_create(vms[v].model, pop_size, nr_vcpus,
				       vms[v].shared);
		touch(b[v], 0, pop_size, 1, TAG_ZERO);	/* warm up */
	}

	for (i = 0; i < (int)iterations; i++) {
		for (v = 0; v < ARRAY_SIZE(vms); v++) {
			kvm_fallocate(b[v]->gmem_fd,
				      FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
				      0, pop_size);
			t = touch(b[v], 0, pop_size, 2, TAG_ZERO);
			sample(vms[v].name, pop_size, "ns/page", t / pages,
			       "%s.first", vms[v].fig);

			bench_slots(b[v], false);
			bench_slots(b[v], true);
			t = touch(b[v], 0, pop_size, 3, 2);
			sample(vms[v].name, pop_size, "ns/page", t / pages,
			       "%s.refault", vms[v].fig);
		}
	}
	print_figures();
	for (v = 0; v < ARRAY_SIZE(vms); v++)
		bench_vm_free(b[v]);
}

static const struct {
	char opt;
	u64 *size;
	const char *help;
} size_opts[] = {
	{ 'm', &max_size, "sweep file and largest conversion, a power of 2" },
	{ 'f', &frag_size, "range fragmented into alternating pages" },
	{ 'p', &pop_size, "populated memory, also the fault path's" },
	{ 'M', &mem_size, "guest memory of the memory case" },
	{ 'g', &guest_slice, "per vCPU, guest-driven conversions happen here" },
	{ 'G', &guest_file, "per vCPU, guest_memfd of the guest-driven case" },
};

static void help(const char *name)
{
	int i;

	printf("usage: %s [-c cases] [-i repetitions] [-v vcpus] [-r requests]\n"
	       "       [-m|-f|-p|-M|-g|-G size]\n"
	       " -c  %-11s 1 sweep, 2 populated, 3 guest-driven, 4 memory, 5 faults\n"
	       " -i  %-11u repetitions of each measurement, at most %d\n"
	       " -v  %-11d vCPUs of cases 2-5, which split the memory\n"
	       " -r  %-11u guest-driven 4K requests per vCPU (2M: a sixteenth)\n",
	       name, cases, iterations, MAX_SAMPLES, nr_vcpus, nr_requests);
	for (i = 0; i < ARRAY_SIZE(size_opts); i++)
		printf(" -%c  0x%-9lx %s\n", size_opts[i].opt, *size_opts[i].size,
		       size_opts[i].help);
	exit(0);
}

int main(int argc, char *argv[])
{
	int opt, i;

	while ((opt = getopt(argc, argv, "hc:i:v:r:m:f:p:M:g:G:")) != -1) {
		for (i = 0; i < ARRAY_SIZE(size_opts); i++) {
			if (opt == size_opts[i].opt)
				*size_opts[i].size = parse_size(optarg);
		}
		if (opt == 'c')
			cases = optarg;
		else if (opt == 'i')
			iterations = atoi_positive("Repetitions", optarg);
		else if (opt == 'v')
			nr_vcpus = atoi_positive("vCPUs", optarg);
		else if (opt == 'r')
			nr_requests = atoi_positive("Requests", optarg);
		else if (!strchr("mfpMgG", opt))
			help(argv[0]);
	}

	TEST_ASSERT(iterations <= MAX_SAMPLES && nr_vcpus <= KVM_MAX_VCPUS,
		    "At most %d repetitions and %d vCPUs", MAX_SAMPLES, KVM_MAX_VCPUS);
	TEST_ASSERT(max_size >= SZ_4M && !(max_size & (max_size - 1)) &&
		    frag_size && !(frag_size % SZ_2M) && frag_size <= max_size / 4,
		    "-m must be a power of 2 >= 4M, -f a multiple of 2M <= -m / 4");
	TEST_ASSERT(pop_size && mem_size && !(pop_size % (SZ_2M * nr_vcpus)) &&
		    !(mem_size % (SZ_2M * nr_vcpus)),
		    "-p and -M must be multiples of 2M times the number of vCPUs");
	TEST_ASSERT(guest_slice && !(guest_slice % SZ_4M) && guest_file &&
		    !(guest_file % guest_slice),
		    "-g must be a multiple of 4M, -G a multiple of -g");

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_GMEM_CONVERSION));
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS) &
		     GUEST_MEMFD_FLAG_INIT_SHARED);

	printf("gmem_perf config iterations=%u vcpus=%d requests=%u",
	       iterations, nr_vcpus, nr_requests);
	for (i = 0; i < ARRAY_SIZE(size_opts); i++)
		printf(" -%c=%lu", size_opts[i].opt, *size_opts[i].size);
	printf("\n");
	fflush(stdout);

	if (strchr(cases, '1'))
		case_sweep();
	if (strchr(cases, '2'))
		case_populated();
	if (strchr(cases, '3'))
		case_guest_driven();
	if (strchr(cases, '4'))
		case_memory();
	if (strchr(cases, '5'))
		case_faults();

	printf("gmem_perf done\n");
	return 0;
}
