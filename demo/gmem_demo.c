// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_demo: a minimal VMM that shows in-place guest_memfd conversion.
 *
 * One guest_memfd backs all of a KVM_X86_SW_PROTECTED_VM's memory through a
 * "gmem-only" memslot, and the host sees the same pages through an mmap() of
 * the guest_memfd.  The tiny guest below keeps a private buffer and hands the
 * host one message at a time: it asks for a page to be shared with the
 * KVM_HC_MAP_GPA_RANGE hypercall, the VMM converts it with
 * KVM_GMEM_CONVERT_SHARED, reads the message in place (no copy), writes a
 * reply, and converts the page back with KVM_GMEM_CONVERT_PRIVATE when the
 * guest asks for it back.  Along the way the VMM checks what the uAPI promises:
 * SIGBUS on host access to private memory, contents preserved across
 * conversions, EAGAIN with the pinned page's offset when a page is pinned, and
 * no second copy of memory.
 *
 * Plain C, libc and the kernel's uAPI headers only.  Build with demo/Makefile.
 * Exit status: 0 when every check held, 1 when a check failed, 2 when this
 * kernel or machine cannot run the demo (no KVM, no SW-protected VMs, no
 * KVM_CAP_GMEM_CONVERSION).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <linux/kvm_para.h>

#ifndef KVM_CAP_GMEM_CONVERSION
#error "<linux/kvm.h> lacks KVM_CAP_GMEM_CONVERSION: build with KHDR=<uAPI headers of the patched kernel>"
#endif

/*
 * Guest physical layout.  One memslot at GPA 0 maps the whole guest_memfd
 * linearly, so a GPA is also its guest_memfd offset.
 */
#define PAGE_SIZE	0x1000
#define GUEST_SIZE	0x200000	/* 2 MiB, 512 pages */
#define CODE_GPA	0x0		/* the guest's code: stays shared, see load_guest() */
#define BUF_GPA		0x1000		/* the guest's private buffer, 1 MiB */
#define BUF_PAGES	256
#define MSG_GPA		0x2000		/* messages go out in buffer pages 1..3 */
#define MSG_PAGES	3
#define STACK_TOP	0x102000	/* private stack page 0x101000-0x101fff */
#define REPLY_OFF	0x800		/* where the host leaves its reply in a message page */
#define FILL		0x5a5a5a5a	/* what the guest fills its buffer with */
#define REPLY_BASE	0x600d0000	/* host reply for message N: REPLY_BASE + N */
#define PIN_ROUND	2		/* the message page the host pins for I/O */

/* I/O ports the guest writes a 32-bit value to. */
#define PORT_MSG	0x10		/* value: GPA of a shared page holding a message */
#define PORT_REPLY	0x11		/* value: the reply the guest read back */
#define PORT_DONE	0x12
#define PORT_FAIL	0x13		/* value: the failed hypercall's return code */

#define GUEST_SHARED	(KVM_MAP_GPA_RANGE_DECRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K)
#define GUEST_PRIVATE	(KVM_MAP_GPA_RANGE_ENCRYPTED | KVM_MAP_GPA_RANGE_PAGE_SZ_4K)

#define STR(x)	#x
#define X(x)	STR(x)

/*
 * The guest, assembled by gas as part of this file (".code32", so it can sit
 * in this 64-bit program's .rodata).  It runs in 32-bit protected mode with
 * paging off and flat segments that the VMM loads through KVM_SET_SREGS, with
 * interrupts off, starting at CODE_GPA with %esp = STACK_TOP.  It refers to
 * its own labels only as CODE_GPA + (label - guest_code), so the bytes need no
 * relocation: the assembler resolves everything.
 */
asm(
"	.pushsection .rodata\n"
"	.code32\n"
"	.globl	guest_code, guest_code_end, guest_hypercall\n"
"guest_code:\n"
"	cld\n"
	/* Fill the private buffer: the host cannot see any of this. */
"	mov	$" X(BUF_GPA) ", %edi\n"
"	mov	$(" X(BUF_PAGES) " * " X(PAGE_SIZE) " / 4), %ecx\n"
"	mov	$" X(FILL) ", %eax\n"
"	rep stosl\n"
	/* One round per message page, %ebp = the page's GPA. */
"	mov	$" X(MSG_GPA) ", %ebp\n"
"g_round:\n"
	/* Write the message while the page is still private... */
"	mov	$(" X(CODE_GPA) " + g_msg - guest_code), %esi\n"
"	mov	%ebp, %edi\n"
"	mov	$(g_msg_end - g_msg), %ecx\n"
"	rep movsb\n"
"	mov	%ebp, %eax\n"			/* message number: 1, 2, 3 */
"	sub	$(" X(MSG_GPA) " - " X(PAGE_SIZE) "), %eax\n"
"	shr	$12, %eax\n"
"	add	$0x30, %al\n"			/* '0' + number */
"	mov	%al, (g_digit - g_msg)(%ebp)\n"
	/* ...share it, tell the host where it is, take it back... */
"	mov	$" X(GUEST_SHARED) ", %edx\n"
"	call	g_map_gpa\n"
"	mov	%ebp, %eax\n"
"	out	%eax, $" X(PORT_MSG) "\n"
"	mov	$" X(GUEST_PRIVATE) ", %edx\n"
"	call	g_map_gpa\n"
	/* ...and report the reply the host left in it, now private again. */
"	mov	" X(REPLY_OFF) "(%ebp), %eax\n"
"	out	%eax, $" X(PORT_REPLY) "\n"
"	add	$" X(PAGE_SIZE) ", %ebp\n"
"	cmp	$(" X(MSG_GPA) " + " X(MSG_PAGES) " * " X(PAGE_SIZE) "), %ebp\n"
"	jne	g_round\n"
"	out	%eax, $" X(PORT_DONE) "\n"
"	hlt\n"
	/* KVM_HC_MAP_GPA_RANGE(gpa %ebp, 1 page, attributes %edx), at CPL 0. */
"g_map_gpa:\n"
"	mov	$" X(KVM_HC_MAP_GPA_RANGE) ", %eax\n"
"	mov	%ebp, %ebx\n"
"	mov	$1, %ecx\n"
"guest_hypercall:\n"
"	vmmcall\n"				/* 0f 01 d9; the VMM patches in vmcall on Intel */
"	test	%eax, %eax\n"
"	jnz	g_fail\n"
"	ret\n"
"g_fail:\n"
"	out	%eax, $" X(PORT_FAIL) "\n"
"	hlt\n"
"g_msg:\n"
"	.ascii	\"hello #\"\n"
"g_digit:\n"
"	.asciz	\"? from the guest, written while its page was private\"\n"
"g_msg_end:\n"
"guest_code_end:\n"
"	.code64\n"
"	.popsection\n");

#define HIDDEN __attribute__((visibility("hidden")))
extern const uint8_t guest_code[] HIDDEN, guest_code_end[] HIDDEN, guest_hypercall[] HIDDEN;

/* guest_memfd pages count as page cache on the unevictable LRU, in KiB. */
static const char *const meminfo_keys[] = { "Unevictable:", "Cached:" };
#define NKEYS 2

/* Everything the VMM keeps. */
#define MAX_TIMES 64
struct stats {
	unsigned int n;
	double us[MAX_TIMES];
};

static struct vmm {
	int kvm, vm, vcpu, gmem, ring;
	struct kvm_run *run;
	uint8_t *mem;		/* host view: mmap() of the whole guest_memfd */
	char vendor[13];
	bool intel;
	bool private_code;	/* --private-code: run the guest from a private page */
	int step;
	int failures;
	int round;		/* message number the guest is on (1..MSG_PAGES) */
	uint64_t pinned;	/* offset of the page the host pinned, or ~0 */
	struct stats to_shared, to_private;
	unsigned int eagain;
	long meminfo_before[NKEYS];
} vmm = { .kvm = -1, .vm = -1, .vcpu = -1, .gmem = -1, .ring = -1, .pinned = ~0ull };

#define PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Output: numbered steps, indented details, and checks that count failures. */
static void PRINTF(1, 2) step(const char *fmt, ...)
{
	va_list ap;

	printf("%2d. ", ++vmm.step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void PRINTF(1, 2) detail(const char *fmt, ...)
{
	va_list ap;

	fputs("    ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Print "(ok)" or count a failure; returns @ok. */
static bool PRINTF(2, 3) check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	vmm.failures++;
	fputs("    FAILED: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return false;
}

static const char *ok(bool cond)
{
	return cond ? "(ok)" : "(WRONG)";
}

/* Stop: this machine or kernel can't run the demo (2), or the VMM failed (1). */
static void __attribute__((noreturn)) PRINTF(2, 3) die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("gmem_demo: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

#define die_errno(what) die(1, "%s failed: %s", what, strerror(errno))

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/*
 * Host reads of guest memory go through sigsetjmp() so that the SIGBUS the
 * kernel sends for a private page is an answer rather than the end.  Any other
 * SIGBUS kills the program as usual.
 */
static sigjmp_buf probe_env;
static volatile sig_atomic_t probing;

static void on_sigbus(int sig)
{
	if (!probing) {
		signal(sig, SIG_DFL);
		return;		/* the access faults again, now fatally */
	}
	siglongjmp(probe_env, 1);
}

/* Read one byte of guest memory at @off; false if the host got SIGBUS. */
static bool host_read(uint64_t off, uint8_t *val)
{
	volatile bool faulted = false;

	probing = 1;
	if (sigsetjmp(probe_env, 1))
		faulted = true;
	else
		*val = *(volatile uint8_t *)(vmm.mem + off);
	probing = 0;
	return !faulted;
}

/* One conversion, timed; returns 0 or -errno, and the kernel's error_offset. */
static int convert(uint64_t off, uint64_t size, bool to_private, uint64_t *error_offset,
		   double *us)
{
	struct kvm_gmem_convert args = { .offset = off, .size = size };
	struct stats *s = to_private ? &vmm.to_private : &vmm.to_shared;
	double t0, t;
	int r;

	t0 = now_us();
	r = ioctl(vmm.gmem, to_private ? KVM_GMEM_CONVERT_PRIVATE : KVM_GMEM_CONVERT_SHARED, &args);
	t = now_us() - t0;
	r = r ? -errno : 0;
	*us = t;
	*error_offset = args.error_offset;
	if (!r && s->n < MAX_TIMES)
		s->us[s->n++] = t;
	return r;
}

/* 0 or -errno as the uAPI documents it. */
static const char *err_name(int r)
{
	switch (r) {
	case 0: return "ok";
	case -EAGAIN: return "EAGAIN";
	case -EINVAL: return "EINVAL";
	case -EFAULT: return "EFAULT";
	case -ENOMEM: return "ENOMEM";
	case -EINTR: return "EINTR";
	}
	return strerror(-r);
}

static const char *conv_name(bool to_private)
{
	return to_private ? "KVM_GMEM_CONVERT_PRIVATE" : "KVM_GMEM_CONVERT_SHARED";
}

/* Convert or fail the demo; prints the one-line result. */
static void convert_or_die(uint64_t off, uint64_t size, bool to_private)
{
	uint64_t err_off;
	double us;
	int r = convert(off, size, to_private, &err_off, &us);

	if (r)
		die(1, "%s offset 0x%" PRIx64 " size 0x%" PRIx64 ": %s (error_offset 0x%" PRIx64 ")",
		    conv_name(to_private), off, size, strerror(-r), err_off);
	detail("%s 0x%" PRIx64 "+0x%" PRIx64 ": ok in %.0f us", conv_name(to_private), off, size,
	       us);
}

/* Probe that the page at @off is private: the host read must raise SIGBUS. */
static void expect_private(uint64_t off, const char *when)
{
	uint8_t v = 0;
	bool readable = host_read(off, &v);

	detail("host read of 0x%" PRIx64 " %s: %s %s", off, when,
	       readable ? "succeeded" : "SIGBUS", ok(!readable));
	check(!readable, "the host read a private page (0x%02x)", v);
}

static void read_meminfo(long *vals)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");
	size_t i;

	for (i = 0; i < NKEYS; i++)
		vals[i] = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < NKEYS; i++) {
			size_t n = strlen(meminfo_keys[i]);

			if (!strncmp(line, meminfo_keys[i], n))
				vals[i] = strtol(line + n, NULL, 10);
		}
	}
	fclose(f);
}

/* Step 1-2: what KVM offers, before creating anything. */
static void probe_kvm(void)
{
	int api, types, conv, flags;

	vmm.kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vmm.kvm < 0 && errno == ENOENT)
		die(2, "/dev/kvm not found: %s (is KVM built in, or kvm_amd/kvm_intel loaded?)",
		    strerror(errno));
	if (vmm.kvm < 0)
		die(2, "/dev/kvm: cannot open it: %s", strerror(errno));
	api = ioctl(vmm.kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		die(2, "/dev/kvm: KVM API %d, this program speaks %d", api, KVM_API_VERSION);
	types = ioctl(vmm.kvm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
	if (types <= 0 || !(types & (1 << KVM_X86_SW_PROTECTED_VM)))
		die(2, "KVM does not offer KVM_X86_SW_PROTECTED_VM (KVM_CAP_VM_TYPES: 0x%x): "
		    "it needs CONFIG_KVM_SW_PROTECTED_VM=y and TDP (npt/ept) on", types < 0 ? 0 : types);
	step("/dev/kvm: KVM API %d; VM types 0x%x include KVM_X86_SW_PROTECTED_VM", api, types);

	conv = ioctl(vmm.kvm, KVM_CHECK_EXTENSION, KVM_CAP_GMEM_CONVERSION);
	if (conv <= 0)
		die(2, "KVM_CAP_GMEM_CONVERSION not offered: is this the patched kernel?");
	flags = ioctl(vmm.kvm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	if (flags < 0 || !(flags & GUEST_MEMFD_FLAG_MMAP))
		die(2, "guest_memfd cannot be mmap()ed here (KVM_CAP_GUEST_MEMFD_FLAGS: 0x%x)", flags);
	step("KVM_CAP_GMEM_CONVERSION: %d; KVM_CAP_GUEST_MEMFD_FLAGS: 0x%x (MMAP%s)", conv, flags,
	     flags & GUEST_MEMFD_FLAG_INIT_SHARED ? ", INIT_SHARED" : "");
}

/* Step 3: the VM, and what it offers (the caps depend on the VM type). */
static void create_vm(void)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_EXIT_HYPERCALL,
		.args[0] = 1 << KVM_HC_MAP_GPA_RANGE,
	};
	int conv, flags, hc;

	vmm.vm = ioctl(vmm.kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vmm.vm < 0)
		die_errno("KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM)");
	conv = ioctl(vmm.vm, KVM_CHECK_EXTENSION, KVM_CAP_GMEM_CONVERSION);
	flags = ioctl(vmm.vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	if (conv != 1)
		die(2, "KVM_CAP_GMEM_CONVERSION not offered on the SW-protected VM (%d): is this the patched kernel?",
		    conv);
	if (flags < 0 || !(flags & GUEST_MEMFD_FLAG_MMAP))
		die(2, "guest_memfd of a SW-protected VM cannot be mmap()ed (flags 0x%x)", flags);

	/* The guest's KVM_HC_MAP_GPA_RANGE requests exit to us. */
	hc = ioctl(vmm.vm, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL);
	if (hc < 0 || !(hc & (1 << KVM_HC_MAP_GPA_RANGE)))
		die(2, "KVM cannot forward KVM_HC_MAP_GPA_RANGE to userspace (KVM_CAP_EXIT_HYPERCALL: 0x%x)",
		    hc);
	if (ioctl(vmm.vm, KVM_ENABLE_CAP, &cap))
		die_errno("KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL)");
	/* The series lets VM types that convert in place start memory shared. */
	step("VM (KVM_X86_SW_PROTECTED_VM): KVM_CAP_GMEM_CONVERSION %d, guest_memfd flags 0x%x "
	     "(MMAP, INIT_SHARED) %s; KVM_HC_MAP_GPA_RANGE exits to the VMM", conv, flags,
	     ok(flags & GUEST_MEMFD_FLAG_INIT_SHARED));
	check(flags & GUEST_MEMFD_FLAG_INIT_SHARED,
	      "INIT_SHARED should be offered for a VM that converts in place");
}

/* Steps 4-6: guest_memfd, the host's mapping of it, and the memslot. */
static void create_memory(void)
{
	struct kvm_create_guest_memfd gmem = {
		.size = GUEST_SIZE,
		.flags = GUEST_MEMFD_FLAG_MMAP,
	};
	struct kvm_userspace_memory_region2 slot = {
		.slot = 0,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = 0,
		.memory_size = GUEST_SIZE,
		.guest_memfd_offset = 0,
	};
	struct sigaction sa = { .sa_handler = on_sigbus };

	read_meminfo(vmm.meminfo_before);

	/* No INIT_SHARED: every page starts private, the safe default. */
	vmm.gmem = ioctl(vmm.vm, KVM_CREATE_GUEST_MEMFD, &gmem);
	if (vmm.gmem < 0)
		die_errno("KVM_CREATE_GUEST_MEMFD");
	step("guest_memfd: %d KiB, flags MMAP (no INIT_SHARED: every page starts private)",
	     GUEST_SIZE >> 10);

	vmm.mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, vmm.gmem, 0);
	if (vmm.mem == MAP_FAILED)
		die_errno("mmap(guest_memfd)");
	if (sigaction(SIGBUS, &sa, NULL))
		die_errno("sigaction(SIGBUS)");
	step("host maps the whole guest_memfd at %p: its only view of guest memory", vmm.mem);
	expect_private(CODE_GPA, "now");

	/* gmem-only: guest_memfd serves both shared and private guest accesses. */
	slot.guest_memfd = vmm.gmem;
	slot.userspace_addr = (uintptr_t)vmm.mem;
	if (ioctl(vmm.vm, KVM_SET_USER_MEMORY_REGION2, &slot))
		die_errno("KVM_SET_USER_MEMORY_REGION2");
	step("memslot 0: GPA 0x0-0x%x -> guest_memfd offset 0, KVM_MEM_GUEST_MEMFD, "
	     "userspace_addr = the host mapping", GUEST_SIZE - 1);
}

static void cpu_vendor(char vendor[13])
{
	uint32_t a = 0, b, c, d;

	asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	vendor[12] = '\0';
}

/*
 * Step 7: the code page.  guest_memfd starts private, so the host shares the
 * page, writes the code through its mapping and reads it back.  The code stays
 * shared: KVM reads an instruction through the memslot's userspace_addr when
 * it has to skip or emulate it (e.g. VMMCALL on an AMD CPU without NRIPS, as
 * under QEMU TCG), and a private page can't be read that way.  Everything the
 * guest keeps to itself (buffer, stack) is private.  With --private-code the
 * page goes back to private before the guest runs, to show what happens.
 */
static void load_guest(void)
{
	size_t len = guest_code_end - guest_code;
	size_t hc = guest_hypercall - guest_code;

	cpu_vendor(vmm.vendor);
	vmm.intel = !strcmp(vmm.vendor, "GenuineIntel");
	step("code page 0x%x: share it, copy in the %zu-byte guest%s", CODE_GPA, len,
	     vmm.private_code ? ", make it private again" : " (it stays shared)");
	convert_or_die(CODE_GPA, PAGE_SIZE, false);
	memcpy(vmm.mem + CODE_GPA, guest_code, len);
	if (vmm.intel)
		vmm.mem[CODE_GPA + hc + 2] = 0xc1;	/* vmmcall -> vmcall */
	check(!memcmp(vmm.mem + CODE_GPA, guest_code, hc) &&
	      !memcmp(vmm.mem + CODE_GPA + hc + 3, guest_code + hc + 3, len - hc - 3),
	      "the guest code does not read back");
	if (vmm.private_code) {
		convert_or_die(CODE_GPA, PAGE_SIZE, true);
		expect_private(CODE_GPA, "now");
	}
}

/* Step 8: one vCPU in 32-bit protected mode, flat segments, no paging. */
static void create_vcpu(void)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x8,
		.type = 0xb,		/* code, execute/read, accessed */
		.present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = CODE_GPA,
		.rsp = STACK_TOP,
		.rflags = 0x2,		/* reserved bit 1; IF=0 */
	};
	int size;

	vmm.vcpu = ioctl(vmm.vm, KVM_CREATE_VCPU, 0);
	if (vmm.vcpu < 0)
		die_errno("KVM_CREATE_VCPU");
	size = ioctl(vmm.kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		die_errno("KVM_GET_VCPU_MMAP_SIZE");
	vmm.run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vmm.vcpu, 0);
	if (vmm.run == MAP_FAILED)
		die_errno("mmap(vcpu)");

	/* Segment caches are loaded directly: no GDT in guest memory. */
	if (ioctl(vmm.vcpu, KVM_GET_SREGS, &sregs))
		die_errno("KVM_GET_SREGS");
	data.selector = 0x10;
	data.type = 0x3;		/* data, read/write, accessed */
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr0 = 0x11;		/* PE | ET: protected mode, paging off */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vmm.vcpu, KVM_SET_SREGS, &sregs))
		die_errno("KVM_SET_SREGS");
	if (ioctl(vmm.vcpu, KVM_SET_REGS, &regs))
		die_errno("KVM_SET_REGS");
	step("vCPU 0: 32-bit protected mode, paging off, flat segments, rip 0x%x, rsp 0x%x; "
	     "hypercall insn %s (%s)", CODE_GPA, STACK_TOP, vmm.intel ? "vmcall" : "vmmcall", vmm.vendor);
}

/* Pin a page for I/O the way a VMM would: register it as an io_uring buffer. */
static int pin_page(uint64_t off)
{
	struct io_uring_params p = { 0 };
	struct iovec iov = { .iov_base = vmm.mem + off, .iov_len = PAGE_SIZE };

	if (vmm.ring < 0) {
		vmm.ring = syscall(__NR_io_uring_setup, 1, &p);
		if (vmm.ring < 0)
			return -errno;
	}
	if (syscall(__NR_io_uring_register, vmm.ring, IORING_REGISTER_BUFFERS, &iov, 1) < 0)
		return -errno;
	vmm.pinned = off;
	return 0;
}

static int unpin_page(void)
{
	if (syscall(__NR_io_uring_register, vmm.ring, IORING_UNREGISTER_BUFFERS, NULL, 0) < 0)
		return -errno;
	vmm.pinned = ~0ull;
	return 0;
}

static void expected_message(int n, char *buf, size_t size)
{
	snprintf(buf, size, "hello #%d from the guest, written while its page was private", n);
}

/*
 * To private with a page pinned: the kernel must refuse with EAGAIN, name the
 * pinned page, and change nothing; once unpinned, the retry works.
 */
static int convert_pinned(uint64_t off)
{
	bool same;
	char want[96];
	uint64_t err_off;
	double us;
	uint8_t v;
	int r;

	r = convert(off, PAGE_SIZE, true, &err_off, &us);
	detail("%s 0x%" PRIx64 "+0x%x: %s, error_offset 0x%" PRIx64 " (the pinned page) in %.0f us %s",
	       conv_name(true), off, PAGE_SIZE, err_name(r), err_off, us,
	       ok(r == -EAGAIN && err_off == vmm.pinned));
	check(r == -EAGAIN, "converting a pinned page to private should fail with EAGAIN");
	check(r == 0 || err_off == vmm.pinned, "error_offset should be the pinned page 0x%" PRIx64,
	      vmm.pinned);
	if (r == 0)
		return 0;
	vmm.eagain++;

	/* Nothing changed: the page is still shared and still holds the message. */
	expected_message(vmm.round, want, sizeof(want));
	same = host_read(off, &v) && !strncmp((char *)vmm.mem + off, want, sizeof(want));
	detail("nothing changed: the page is still shared, the host still reads the message %s",
	       ok(same));
	check(same, "a failed conversion changed the page");

	r = unpin_page();
	if (r)
		die(1, "IORING_UNREGISTER_BUFFERS: %s", strerror(-r));
	r = convert(off, PAGE_SIZE, true, &err_off, &us);
	detail("host unpins (IORING_UNREGISTER_BUFFERS) and retries: %s in %.0f us %s",
	       err_name(r), us, ok(!r));
	check(!r, "the retry after unpinning failed (error_offset 0x%" PRIx64 ")", err_off);
	return r;
}

/* The guest's KVM_HC_MAP_GPA_RANGE: convert the range as asked. */
static void serve_hypercall(void)
{
	struct kvm_run *run = vmm.run;
	uint64_t gpa = run->hypercall.args[0], npages = run->hypercall.args[1];
	uint64_t attrs = run->hypercall.args[2];
	bool to_private = attrs & KVM_MAP_GPA_RANGE_ENCRYPTED;
	uint64_t size = npages * PAGE_SIZE;
	int r;

	if (run->hypercall.nr != KVM_HC_MAP_GPA_RANGE) {
		check(false, "unexpected hypercall %llu", run->hypercall.nr);
		run->hypercall.ret = -KVM_ENOSYS;
		return;
	}
	step("guest: KVM_HC_MAP_GPA_RANGE gpa 0x%" PRIx64 ", %" PRIu64 " page%s, %s", gpa, npages,
	     npages == 1 ? "" : "s", to_private ? "private" : "shared");
	/* Only 4K pages, and only inside the one memslot. */
	if ((attrs & ~(uint64_t)GUEST_PRIVATE) || !npages || npages > GUEST_SIZE / PAGE_SIZE ||
	    gpa >= GUEST_SIZE || size > GUEST_SIZE - gpa) {
		check(false, "bad request: gpa 0x%" PRIx64 " npages %" PRIu64 " attributes 0x%" PRIx64,
		      gpa, npages, attrs);
		run->hypercall.ret = -KVM_EINVAL;
		return;
	}

	if (to_private) {
		if (vmm.pinned == gpa) {
			r = convert_pinned(gpa);
		} else {
			uint64_t err_off;
			double us;

			r = convert(gpa, size, true, &err_off, &us);
			detail("%s 0x%" PRIx64 "+0x%" PRIx64 ": %s in %.0f us", conv_name(true), gpa,
			       size, err_name(r), us);
			check(!r, "conversion failed (error_offset 0x%" PRIx64 ")", err_off);
		}
		if (!r)
			expect_private(gpa, "now");
	} else {
		uint64_t err_off;
		double us;

		expect_private(gpa, "before converting");
		r = convert(gpa, size, false, &err_off, &us);
		detail("%s 0x%" PRIx64 "+0x%" PRIx64 ": %s in %.0f us", conv_name(false), gpa, size,
		       err_name(r), us);
		check(!r, "conversion failed (error_offset 0x%" PRIx64 ")", err_off);
	}
	run->hypercall.ret = r ? -KVM_EINVAL : 0;
}

/* The guest says a message is waiting in the shared page at @gpa. */
static void read_message(uint64_t gpa)
{
	const char *msg = (const char *)vmm.mem + gpa;
	uint32_t tail, reply;
	char want[96];
	bool good;
	uint8_t v;
	int r;

	/* The GPA comes from the guest: check it before touching memory. */
	if (gpa < MSG_GPA || gpa >= MSG_GPA + MSG_PAGES * PAGE_SIZE || gpa % PAGE_SIZE) {
		step("guest: message at 0x%" PRIx64 ", outside its message pages", gpa);
		check(false, "bad message address");
		return;
	}
	vmm.round = (gpa - MSG_GPA) / PAGE_SIZE + 1;
	expected_message(vmm.round, want, sizeof(want));
	if (!host_read(gpa, &v)) {
		step("guest: message %d at 0x%" PRIx64 ", but the host gets SIGBUS there", vmm.round, gpa);
		check(false, "the page the guest shared is not readable");
		return;
	}
	/* In place: the host reads the guest's page itself, no copy. */
	memcpy(&tail, vmm.mem + gpa + PAGE_SIZE - 4, 4);
	good = !strncmp(msg, want, sizeof(want)) && tail == FILL;
	step("guest: message at 0x%" PRIx64 "; host reads it in place: \"%.*s\" %s", gpa,
	     (int)strnlen(msg, sizeof(want)), msg, ok(good));
	check(!strncmp(msg, want, sizeof(want)), "expected \"%s\"", want);
	check(tail == FILL, "the rest of the page lost the guest's fill: 0x%08x", tail);

	reply = REPLY_BASE + vmm.round;
	memcpy(vmm.mem + gpa + REPLY_OFF, &reply, sizeof(reply));
	detail("host writes its reply 0x%08x at 0x%" PRIx64 " for the guest to read once private",
	       reply, gpa + REPLY_OFF);

	if (vmm.round != PIN_ROUND)
		return;
	r = pin_page(gpa);
	if (r == -ENOSYS || r == -EPERM)
		check(false, "io_uring is not available (%s): cannot pin a page (sysctl kernel.io_uring_disabled?)",
		      strerror(-r));
	else if (r)
		check(false, "pinning the page with IORING_REGISTER_BUFFERS failed: %s", strerror(-r));
	else
		detail("host pins the page for I/O: io_uring IORING_REGISTER_BUFFERS on its mapping "
		       "(a FOLL_LONGTERM pin)");
}

/* An OUT from the guest; returns true when the guest is done. */
static bool serve_io(void)
{
	struct kvm_run *run = vmm.run;
	uint32_t val;

	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 || run->io.count != 1) {
		check(false, "unexpected I/O: port 0x%x size %u dir %u", run->io.port, run->io.size,
		      run->io.direction);
		return true;
	}
	memcpy(&val, (uint8_t *)run + run->io.data_offset, 4);
	switch (run->io.port) {
	case PORT_MSG:
		read_message(val);
		return false;
	case PORT_REPLY:
		step("guest read the host's reply in its private page: 0x%08x %s", val,
		     ok(val == REPLY_BASE + (uint32_t)vmm.round));
		check(val == REPLY_BASE + (uint32_t)vmm.round, "expected 0x%08x",
		      REPLY_BASE + vmm.round);
		return false;
	case PORT_DONE:
		step("guest: done after %d messages %s", vmm.round, ok(vmm.round == MSG_PAGES));
		check(vmm.round == MSG_PAGES, "the guest sent %d messages, wanted %d", vmm.round,
		      MSG_PAGES);
		return true;
	case PORT_FAIL:
		step("guest: a hypercall failed with %d", (int32_t)val);
		check(false, "the guest gave up");
		return true;
	}
	check(false, "OUT to unknown port 0x%x", run->io.port);
	return true;
}

static void dump_vcpu(void)
{
	struct kvm_regs regs;

	if (!ioctl(vmm.vcpu, KVM_GET_REGS, &regs))
		detail("vCPU: rip 0x%llx rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx rbp 0x%llx",
		       regs.rip, regs.rax, regs.rbx, regs.rcx, regs.rdx, regs.rbp);
}

static void internal_error(void)
{
	struct kvm_run *run = vmm.run;
	unsigned int i, reason;
	bool bytes;

	if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION) {
		step("KVM_EXIT_INTERNAL_ERROR, suberror %u", run->internal.suberror);
		for (i = 0; i < run->internal.ndata && i < 16; i++)
			detail("data[%u] 0x%llx", i, run->internal.data[i]);
		dump_vcpu();
		check(false, "KVM could not run the guest");
		return;
	}
	/* data[]: flags, [instruction bytes (2 words)], hardware exit reason, ... */
	bytes = run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	reason = bytes ? 3 : 1;
	step("KVM_EXIT_INTERNAL_ERROR: KVM failed to emulate an instruction (%s), exit code 0x%llx",
	     bytes ? "it read the instruction" : "it could not even read it",
	     run->internal.ndata > reason ? run->internal.data[reason] : 0ull);
	dump_vcpu();
	if (vmm.private_code)
		detail("the code is private: KVM reads instructions it must skip or emulate through "
		       "userspace_addr, which cannot reach private memory");
	check(false, "KVM could not run the guest");
}

/* Run the guest and serve its exits until it is done. */
static void run_guest(void)
{
	struct kvm_run *run = vmm.run;

	for (;;) {
		if (ioctl(vmm.vcpu, KVM_RUN, 0)) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			step("KVM_RUN failed: %s", strerror(errno));
			dump_vcpu();
			check(false, "KVM_RUN: %s", strerror(errno));
			return;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_HYPERCALL:
			serve_hypercall();
			break;
		case KVM_EXIT_IO:
			if (serve_io())
				return;
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			internal_error();
			return;
		case KVM_EXIT_MEMORY_FAULT:
			step("KVM_EXIT_MEMORY_FAULT gpa 0x%llx size 0x%llx flags 0x%llx",
			     run->memory_fault.gpa, run->memory_fault.size, run->memory_fault.flags);
			dump_vcpu();
			check(false, "unexpected memory fault exit");
			return;
		default:
			step("unexpected exit reason %u", run->exit_reason);
			dump_vcpu();
			check(false, "unexpected exit");
			return;
		}
	}
}

/* Pages of the guest_memfd in the page cache, from mincore() on the host mapping. */
static long gmem_pages(void)
{
	unsigned char vec[GUEST_SIZE / PAGE_SIZE];
	long n = 0;
	size_t i;

	if (mincore(vmm.mem, GUEST_SIZE, vec))
		return -errno;
	for (i = 0; i < sizeof(vec); i++)
		n += vec[i] & 1;
	return n;
}

/* Resident pages of the host mapping (Rss in /proc/self/smaps), in KiB. */
static long host_rss_kib(void)
{
	char line[256], start[32];
	bool in = false;
	long kib = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	snprintf(start, sizeof(start), "%lx-", (unsigned long)vmm.mem);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && !strncmp(line, start, strlen(start)))
			in = true;
		else if (in && !strncmp(line, "Rss:", 4)) {
			kib = strtol(line + 4, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "N to shared (min/median/max X/Y/Z us)" */
static void format_stats(char *buf, size_t size, struct stats *s, const char *what)
{
	if (!s->n) {
		snprintf(buf, size, "0 %s", what);
		return;
	}
	qsort(s->us, s->n, sizeof(s->us[0]), cmp_double);
	snprintf(buf, size, "%u %s (min/median/max %.0f/%.0f/%.0f us)", s->n, what, s->us[0],
		 s->us[s->n / 2], s->us[s->n - 1]);
}

/*
 * Steady state, once the guest is done: the first conversions above include
 * one-time costs (and, under QEMU TCG, translating kernel code).  Share a page,
 * have the host read it, take it back, @n times.
 */
#define ROUND_TRIPS 50
static void time_round_trips(uint64_t off)
{
	struct stats sh = { 0 }, pv = { 0 };
	char a[96], b[96];
	uint64_t err_off;
	double us;
	uint8_t v;
	int i;

	for (i = 0; i < ROUND_TRIPS; i++) {
		if (convert(off, PAGE_SIZE, false, &err_off, &us) || !host_read(off, &v))
			break;
		if (i < MAX_TIMES)
			sh.us[sh.n++] = us;
		if (convert(off, PAGE_SIZE, true, &err_off, &us))
			break;
		if (i < MAX_TIMES)
			pv.us[pv.n++] = us;
	}
	format_stats(a, sizeof(a), &sh, "to shared");
	format_stats(b, sizeof(b), &pv, "to private");
	step("steady state, %d more round trips of page 0x%" PRIx64 " (guest idle, host reads it "
	     "each time): %s, %s %s", i, off, a, b, ok(i == ROUND_TRIPS));
	check(i == ROUND_TRIPS, "round trip %d failed", i + 1);
}

/* Last steps: conversion times, and the memory the guest costs the host. */
static void report(void)
{
	long pages = gmem_pages(), rss = host_rss_kib(), after[NKEYS];
	long touched = 1 + BUF_PAGES + 1;	/* code, buffer, stack */
	long private_side = BUF_PAGES + 1;	/* buffer, stack */
	long shared_side = 1 + MSG_PAGES;	/* code, one copy per message */
	char sh[96], pv[96];
	struct stat st;

	format_stats(sh, sizeof(sh), &vmm.to_shared, "to shared");
	format_stats(pv, sizeof(pv), &vmm.to_private, "to private");
	step("conversions for the guest: %s, %s, %u EAGAIN", sh, pv, vmm.eagain);
	if (vmm.round == MSG_PAGES)
		time_round_trips(MSG_GPA + (MSG_PAGES - 1) * PAGE_SIZE);

	read_meminfo(after);
	if (fstat(vmm.gmem, &st))
		die_errno("fstat(guest_memfd)");
	step("memory in place: the guest_memfd holds %ld pages (%ld KiB) of the %d KiB guest: "
	     "code, buffer, stack (mincore) %s", pages, pages * 4, GUEST_SIZE >> 10,
	     ok(pages == touched));
	check(pages == touched, "expected %ld pages: code, %d buffer pages, stack", touched,
	      BUF_PAGES);
	detail("/proc/meminfo since the guest_memfd was created: Unevictable %+ld KiB, Cached "
	       "%+ld KiB (system-wide; per-CPU counters lag a few pages)",
	       after[0] - vmm.meminfo_before[0], after[1] - vmm.meminfo_before[1]);
	detail("host mapping Rss %ld KiB (pages the host has mapped now); fstat st_blocks %lld "
	       "(guest_memfd does not count blocks)", rss, (long long)st.st_blocks);
	step("memory with two backings (private guest_memfd + separate shared memory): %ld private + "
	     "%ld shared copies (code, %d messages) = %ld pages (%ld KiB)", private_side,
	     shared_side, MSG_PAGES, private_side + shared_side, (private_side + shared_side) * 4);
	detail("if both copies are kept; at worst 2 x %d KiB. Discarding on every conversion "
	       "would keep %ld, but a shared page would arrive zeroed, not with the message",
	       GUEST_SIZE >> 10, touched);
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [--private-code]\n"
	       "  Runs a tiny SW-protected guest that shares pages with this VMM by\n"
	       "  converting its guest_memfd in place, and narrates each step.\n"
	       "  --private-code  run the guest from a private page (needs a CPU with\n"
	       "                  NRIPS: see load_guest() in the source)\n"
	       "Exit: 0 all checks held, 1 a check failed, 2 cannot run here.\n", prog);
}

int main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--private-code")) {
			vmm.private_code = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout, argv[0]);
			return 0;
		} else {
			usage(stderr, argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("gmem_demo: a SW-protected guest shares pages with its VMM by in-place guest_memfd conversion\n");

	probe_kvm();
	create_vm();
	create_memory();
	load_guest();
	create_vcpu();
	run_guest();
	report();

	if (vmm.ring >= 0)
		close(vmm.ring);
	if (vmm.failures) {
		printf("FAIL: %d check%s failed\n", vmm.failures, vmm.failures == 1 ? "" : "s");
		return 1;
	}
	printf("PASS: every check held\n");
	return 0;
}
