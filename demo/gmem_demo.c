// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_demo: a minimal VMM for in-place guest_memfd conversion.  A SW-protected VM's memory is
 * one guest_memfd, created shared and mmap()ed; the mapping is the gmem-only slot's userspace_addr.
 * Boot 1: the guest shares a page to pass a message, takes it back while the VMM still uses it
 * (EAGAIN), touches a poisoned page (KVM_EXIT_MEMORY_FAULT).  Boot 2: a message, a reset request
 * (port 0xcf9).  Boot 3: a message, done.  Exit: 0 checks held, 1 one failed, 2 can't run here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>
#include <linux/kvm_para.h>

/* One memslot maps the whole guest_memfd at GPA 0: a GPA is also a file offset. */
#define PAGE_SIZE	0x1000
#define GUEST_SIZE	0x200000	/* the guest's stack grows down from the top */
#define SHARED_GPA	0x1000		/* stays shared, as the code page 0 does (cold_boot()) */
#define MSG_GPA		0x2000		/* the first private page; shared to pass a message */
#define REPLY_OFF	0x800		/* where in it the VMM leaves its reply */
#define REPLY_BASE	0x600d0000	/* the reply in boot N is REPLY_BASE + N */
#define LAST_BOOT	3
#define MESSAGE		"hello from the guest"
#define PORT_MSG	0x10
#define PORT_REPLY	0x11
#define PORT_DONE	0x12
#define PORT_RESET	0xcf9		/* reset control register; 0x06 asks for a full reset */
#define MMAP_INIT_SHARED (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)
#define STR(x)		#x
#define X(x)		STR(x)

/*
 * The guest, at GPA 0: 32-bit protected mode, no paging, no interrupts, boot number in %ebp.
 * It writes a message in a private page, shares the page, tells the VMM, takes the page back,
 * reports the reply in it, copies it to the shared page, and asks for a reset (or, last, is done).
 */
asm(".pushsection .rodata; .code32; .globl guest_code, guest_code_end, guest_hypercall\n"
"guest_code:\n"
"	cld; mov $(g_msg - guest_code), %esi; mov $" X(MSG_GPA) ", %edi\n"
"	mov $(g_msg_end - g_msg), %ecx; rep movsb\n"
"	mov $" X(KVM_MAP_GPA_RANGE_DECRYPTED) ", %edx; call g_map_gpa; out %al, $" X(PORT_MSG) "\n"
"	mov $" X(KVM_MAP_GPA_RANGE_ENCRYPTED) ", %edx; call g_map_gpa\n"
"	mov " X(MSG_GPA) " + " X(REPLY_OFF) ", %eax; out %eax, $" X(PORT_REPLY) "\n"
"	mov %eax, " X(SHARED_GPA) "; cmp $" X(LAST_BOOT) ", %ebp; je 1f\n"
"	mov $" X(PORT_RESET) ", %dx; mov $6, %al; out %al, %dx; hlt\n"
"1:	out %al, $" X(PORT_DONE) "; hlt\n"
	/* KVM_HC_MAP_GPA_RANGE(MSG_GPA, 1 page, %edx: 4K pages, private or shared) */
"g_map_gpa: mov $" X(KVM_HC_MAP_GPA_RANGE) ", %eax; mov $" X(MSG_GPA) ", %ebx; mov $1, %ecx\n"
"guest_hypercall: vmmcall; ret\n"	/* 0f 01 d9; the VMM makes it vmcall (0f 01 c1) on Intel */
"g_msg: .asciz " X(MESSAGE) "; g_msg_end: guest_code_end: .code64; .popsection\n");
extern const __u8 guest_code[], guest_code_end[], guest_hypercall[];

enum run_end { RUNNING, REBOOT, STOP };
static int vcpu_fd, gmem_fd, pipe_fds[2], failures;
static struct kvm_run *run;
static __u8 *mem;		/* the VMM's one view of guest memory */
static bool msg_in_pipe;	/* the VMM's pipe holds a reference to the message page */

#define die(s, ...) (fprintf(stderr, "gmem_demo: " __VA_ARGS__), fputc('\n', stderr), exit(s))
#define IOCTL(fd, req, arg) ({ int r_ = ioctl(fd, req, arg);				\
	r_ < 0 ? die(1, #req ": %s", strerrorname_np(errno)), 0 : r_; })
#define NEED_CAP(fd, cap, bits) ({ int r_ = ioctl(fd, KVM_CHECK_EXTENSION, cap);	\
	r_ <= 0 || (r_ & (bits)) != (bits) ? die(2, #cap " is 0x%x, needs " #bits, r_), 0 : r_; })
#define now_us() ({ struct timespec ts_;						\
	clock_gettime(CLOCK_MONOTONIC, &ts_), ts_.tv_sec * 1e6 + ts_.tv_nsec / 1e3; })

/* A check is printed in the line that shows what it checks, and counted if it fails. */
static const char *verdict(bool ok)
{
	failures += !ok;
	return ok ? "ok" : "FAILED";
}

/* The guest_memfd's footprint: the pages it holds, shared or private. */
static int resident_pages(void)
{
	unsigned char vec[GUEST_SIZE / PAGE_SIZE];
	int i, pages = 0;

	if (mincore(mem, GUEST_SIZE, vec))
		die(1, "mincore: %s", strerrorname_np(errno));
	for (i = 0; i < GUEST_SIZE / PAGE_SIZE; i++)
		pages += vec[i] & 1;
	return pages;
}

/*
 * Convert [off, off + size).  EAGAIN: a shared page, at error_offset, has a reference besides
 * guest_memfd's.  If it is the VMM's own I/O, finish that, and retry a little later (api.rst:
 * not in a tight loop), a few times at most.  Any other failure is fatal: the guest sees none.
 */
static void convert(__u64 off, __u64 size, bool to_private)
{
	char io_buf[PAGE_SIZE];
	int try, err;

	for (try = 1; ; try++) {
		struct kvm_gmem_convert args = { .offset = off, .size = size };

		if (!ioctl(gmem_fd, to_private ? KVM_GMEM_CONVERT_PRIVATE : KVM_GMEM_CONVERT_SHARED,
			   &args))
			return;
		err = errno;
		printf("  KVM_GMEM_CONVERT_%s 0x%llx+0x%llx: %s, error_offset 0x%llx\n",
		       to_private ? "PRIVATE" : "SHARED", off, size, strerrorname_np(err),
		       args.error_offset);
		if (err != EAGAIN || try == 5)
			die(1, "conversion failed");
		if (msg_in_pipe && args.error_offset == MSG_GPA)
			msg_in_pipe = read(pipe_fds[0], io_buf, PAGE_SIZE) != PAGE_SIZE;
		printf("  that is the page in the VMM's pipe (%s): drained it, retry\n",
		       verdict(args.error_offset == MSG_GPA && !msg_in_pipe));
		usleep(1000);
	}
}

/*
 * A cold boot, as confidential guests get (SNP or TDX would need a new VM too).  Conversion
 * keeps contents: a VMM that must not see the last boot's memory punches the file instead.  The
 * code page stays shared: KVM reads an instruction through userspace_addr to skip or emulate it
 * (VMMCALL on AMD without NRIPS, as under QEMU TCG), which a private page refuses.
 */
static void cold_boot(int boot)
{
	struct kvm_segment seg = { .limit = ~0u, .type = 3, .present = 1, .db = 1, .s = 1, .g = 1 };
	struct kvm_regs regs = { .rip = 0, .rsp = GUEST_SIZE, .rbp = boot, .rflags = 0x2 };
	int pages = resident_pages();
	double t0 = now_us(), t1, t2, t3;
	struct kvm_sregs sregs;

	convert(0, GUEST_SIZE, false);
	t1 = now_us();
	memcpy(mem, guest_code, guest_code_end - guest_code);
	if (__builtin_cpu_is("intel"))
		mem[guest_hypercall - guest_code + 2] = 0xc1;
	t2 = now_us();
	convert(MSG_GPA, GUEST_SIZE - MSG_GPA, true);
	t3 = now_us();
	IOCTL(vcpu_fd, KVM_GET_SREGS, &sregs);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.cs = seg;	/* flat, no GDT */
	sregs.cs.type = 0xb;		/* code: execute/read */
	sregs.cr0 = 0x11;		/* PE | ET: protected mode, no paging */
	sregs.cr4 = sregs.efer = 0;
	IOCTL(vcpu_fd, KVM_SET_SREGS, &sregs);
	IOCTL(vcpu_fd, KVM_SET_REGS, &regs);
	printf("boot %d: convert-shared %.0f us, reload %.0f us, convert-private %.0f us", boot,
	       t1 - t0, t2 - t1, t3 - t2);
	printf(" (0x%x-0x%x), total %.0f us; guest_memfd footprint %d -> %d pages\n", MSG_GPA,
	       GUEST_SIZE - 1, now_us() - t0, pages, resident_pages());
}

static enum run_end port_write(int boot)
{
	struct iovec page = { .iov_base = mem + MSG_GPA, .iov_len = PAGE_SIZE };
	__u32 val = 0, reply = REPLY_BASE + boot, seen;

	memcpy(&val, (__u8 *)run + run->io.data_offset, run->io.size);
	switch (run->io.port) {
	case PORT_MSG:
		/* Boot 1 also forwards it, zero-copy: the pipe holds the page until drained. */
		msg_in_pipe = boot == 1 && vmsplice(pipe_fds[1], &page, 1, 0) == PAGE_SIZE;
		if (boot == 1 && !msg_in_pipe)
			die(1, "vmsplice: %s", strerrorname_np(errno));
		printf("  message in place: \"%.32s\" (%s); reply 0x%x written%s\n", mem + MSG_GPA,
		       verdict(!memcmp(mem + MSG_GPA, MESSAGE, sizeof(MESSAGE))), reply,
		       msg_in_pipe ? "; page vmsplice()d into a pipe" : "");
		memcpy(mem + MSG_GPA + REPLY_OFF, &reply, sizeof(reply));
		return RUNNING;
	case PORT_REPLY:	/* in boot 1, only once the VMM's pipe let go of the page */
		printf("  guest read reply 0x%x in its private page (%s)\n", val,
		       verdict(val == reply && !msg_in_pipe));
		return RUNNING;
	}
	memcpy(&seen, mem + SHARED_GPA, sizeof(seen));	/* not before: poisoned in boot 1 */
	printf("  guest left 0x%x in the shared page (%s), wrote 0x%x to port 0x%x (%s)\n", seen,
	       verdict(seen == reply), val, run->io.port, verdict(run->io.port == PORT_RESET ?
	       val == 6 && boot == 2 : run->io.port == PORT_DONE && boot == LAST_BOOT));
	return run->io.port == PORT_RESET ? REBOOT : STOP;
}

/* KVM_RUN failed with EFAULT or EHWPOISON, and exit_reason is KVM_EXIT_MEMORY_FAULT. */
static enum run_end memory_fault(int boot, int err)
{
	__u64 gpa = run->memory_fault.gpa, size = run->memory_fault.size;
	__u64 flags = run->memory_fault.flags;
	static __u64 last_gpa = -1;	/* EFAULT there again: converting did not resolve it */

	printf("  KVM_RUN: %s, KVM_EXIT_MEMORY_FAULT gpa 0x%llx+0x%llx flags 0x%llx (%s): %s\n",
	       strerrorname_np(err), gpa, size, flags, verdict(err == EHWPOISON && boot == 1 &&
	       gpa == SHARED_GPA && !flags), err == EFAULT ? "convert" : "punch out, reboot");
	/*
	 * EFAULT: the access wants the other state, as when an SNP or TDX guest touches memory it
	 * did not convert (never on a SW-protected VM: KVM decides from the state).  EHWPOISON: the
	 * page is lost, and the guest's state with it; punched out, a fresh one replaces it.
	 */
	if (err == EFAULT && gpa != last_gpa)
		convert(gpa, size, flags & KVM_MEMORY_EXIT_FLAG_PRIVATE);
	else if (err == EFAULT || fallocate(gmem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						gpa, size))
		die(1, "memory fault at 0x%llx not resolved: %s", gpa, strerrorname_np(errno));
	last_gpa = gpa;
	return err == EFAULT ? RUNNING : REBOOT;
}

static enum run_end run_guest(int boot)
{
	__u64 *args = run->hypercall.args;	/* KVM_HC_MAP_GPA_RANGE: gpa, pages, attributes */
	enum run_end end = RUNNING;

	while (end == RUNNING) {
		if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) {
			/* exit_reason says something only with these two errnos. */
			if ((errno != EFAULT && errno != EHWPOISON) ||
			    run->exit_reason != KVM_EXIT_MEMORY_FAULT)
				die(1, "KVM_RUN: %s", strerrorname_np(errno));
			end = memory_fault(boot, errno);
		} else if (run->exit_reason == KVM_EXIT_IO) {
			end = port_write(boot);
		} else if (run->exit_reason == KVM_EXIT_HYPERCALL) {
			/* KVM checked alignment, the VMM checks the range. */
			run->hypercall.ret = args[0] >= GUEST_SIZE ||
				args[1] > (GUEST_SIZE - args[0]) / PAGE_SIZE ? -KVM_EINVAL : 0;
			if (!run->hypercall.ret)
				convert(args[0], args[1] * PAGE_SIZE,
					args[2] & KVM_MAP_GPA_RANGE_ENCRYPTED);
			printf("  guest MAP_GPA_RANGE 0x%llx %llu page %s (%s)\n", args[0], args[1],
			       args[2] & KVM_MAP_GPA_RANGE_ENCRYPTED ? "private" : "shared",
			       verdict(!run->hypercall.ret));
		} else {
			printf("  exit reason %u (%s)\n", run->exit_reason, verdict(false));
			end = STOP;
		}
	}
	return end;
}

/* The VM, its guest_memfd, mapped and bound by a gmem-only memslot, a vCPU, a pipe. */
static void create_vm(void)
{
	struct kvm_create_guest_memfd gmem = { .size = GUEST_SIZE, .flags = MMAP_INIT_SHARED };
	int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm_fd, types, conv, flags;

	if (kvm_fd < 0)
		die(2, "/dev/kvm: %s", strerror(errno));
	types = NEED_CAP(kvm_fd, KVM_CAP_VM_TYPES, 1 << KVM_X86_SW_PROTECTED_VM);
	vm_fd = IOCTL(kvm_fd, KVM_CREATE_VM, (void *)KVM_X86_SW_PROTECTED_VM);
	conv = NEED_CAP(vm_fd, KVM_CAP_GMEM_CONVERSION, 1);
	flags = NEED_CAP(vm_fd, KVM_CAP_GUEST_MEMFD_FLAGS, MMAP_INIT_SHARED);
	IOCTL(vm_fd, KVM_ENABLE_CAP, &((struct kvm_enable_cap){
		.cap = KVM_CAP_EXIT_HYPERCALL, .args[0] = 1 << KVM_HC_MAP_GPA_RANGE }));
	printf("KVM: VM types 0x%x, GMEM_CONVERSION %d, gmem flags 0x%x\n", types, conv, flags);
	gmem_fd = IOCTL(vm_fd, KVM_CREATE_GUEST_MEMFD, &gmem);
	mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, gmem_fd, 0);
	vcpu_fd = IOCTL(vm_fd, KVM_CREATE_VCPU, NULL);
	run = mmap(NULL, IOCTL(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL), PROT_READ | PROT_WRITE,
		   MAP_SHARED, vcpu_fd, 0);
	if (mem == MAP_FAILED || run == MAP_FAILED || pipe2(pipe_fds, O_CLOEXEC))
		die(1, "mmap/pipe2: %s", strerrorname_np(errno));
	IOCTL(vm_fd, KVM_SET_USER_MEMORY_REGION2, &((struct kvm_userspace_memory_region2){
		.flags = KVM_MEM_GUEST_MEMFD, .memory_size = GUEST_SIZE,
		.userspace_addr = (unsigned long)mem, .guest_memfd = gmem_fd }));
	printf("guest_memfd (MMAP | INIT_SHARED) mapped at %p: memslot 0's userspace_addr\n", mem);
}

int main(void)
{
	enum run_end end = REBOOT;
	void *page;
	int boot, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	create_vm();
	/*
	 * A memory error in the shared page the guest touches last, via a mapping of its own (the
	 * hwpoison entry left in it survives punching); EBUSY: guest_memfd leaves it to the VMM.
	 */
	page = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, gmem_fd, SHARED_GPA);
	r = page == MAP_FAILED ? -1 : madvise(page, PAGE_SIZE, MADV_HWPOISON);
	if (r && (errno == EINVAL || errno == EPERM))
		die(2, "MADV_HWPOISON %s: root? CONFIG_MEMORY_FAILURE?", strerrorname_np(errno));
	if (r && errno != EBUSY)
		die(1, "MADV_HWPOISON: %s", strerrorname_np(errno));
	printf("memory error in shared page 0x%x: MADV_HWPOISON %s\n", SHARED_GPA,
	       r ? strerrorname_np(errno) : "ok");
	munmap(page, PAGE_SIZE);
	for (boot = 1; boot <= LAST_BOOT && end == REBOOT; boot++) {
		cold_boot(boot);
		end = run_guest(boot);
	}
	printf("%s: %d check(s) failed\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
