#!/usr/bin/env bats
# The test bed's own tests (make check-testbed, run first by make test): each trap a user
# fell into stays fixed. They use a small fake kernel tree, a stub make (stubs/kmake)
# and a stub qemu (stubs/qemu), so they take seconds and build no kernel.

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
STUBS=$BATS_TEST_DIRNAME/stubs
BASE_SUBJECT="Debian linux-source-7.3 7.3.4-1~bpo13+1"

setup() {
	export BUILD=$BATS_TEST_TMPDIR/build RESULTS=$BATS_TEST_TMPDIR/results
	export CACHE=$BATS_TEST_TMPDIR/cache PATCHES_DIR=$BATS_TEST_TMPDIR/patches
	export CCACHE_DISABLE=1
	unset SRC T GMEM_BASE_VERSION FORCE ACCEL
	mkdir -p "$BUILD" "$PATCHES_DIR"
}

# A fake base tree at $BUILD/linux: the files check-series looks at, stub tools, and
# the commit tagged "base" with the subject of the pinned base.
make_fake_tree() {
	local t=$BUILD/linux
	mkdir -p "$t"/{virt/kvm,scripts/kconfig,Documentation/virt/kvm}
	printf 'Title\n=====\n' >"$t/Documentation/virt/kvm/index.rst"
	printf 'API\n===\n' >"$t/Documentation/virt/kvm/api.rst"
	printf 'int kvm_main;\n' >"$t/virt/kvm/kvm_main.c"
	printf 'int gmem;\n' >"$t/virt/kvm/guest_memfd.c"
	printf '#!/bin/sh\necho "total: 0 errors, 0 warnings, 0 checks, 1 lines checked"\n' >"$t/scripts/checkpatch.pl"
	printf '#!/bin/sh\nexit 0\n' >"$t/scripts/kernel-doc"
	cat >"$t/scripts/kconfig/merge_config.sh" <<-'EOF'
	#!/bin/sh
	out=$3; shift 4
	cat "$@" | sed 's/^\(CONFIG_[A-Za-z0-9_]*\)=n$/# \1 is not set/' >"$out/.config"
	EOF
	chmod +x "$t/scripts/checkpatch.pl" "$t/scripts/kernel-doc" "$t/scripts/kconfig/merge_config.sh"
	git -C "$t" init -q -b series
	git -C "$t" add -A
	git -C "$t" -c user.name=t -c user.email=t@t commit -q -m "$BASE_SUBJECT"
	git -C "$t" tag base
	git -C "$t" config user.name t
	git -C "$t" config user.email t@t
}

# add_patch NAME FILE TEXT: commit TEXT appended to FILE on the tree's series branch.
add_commit() {
	echo "$3" >>"$BUILD/linux/$2"
	git -C "$BUILD/linux" commit -q -am "$1"
}

# The tree's commits base..series as patches/ (what make export writes).
export_patches() {
	rm -f "$PATCHES_DIR"/*.patch
	git -C "$BUILD/linux" format-patch -q --zero-commit --no-signature --notes --base=base \
		-o "$PATCHES_DIR" base..series
	(cd "$PATCHES_DIR" && ls ./*.patch | sed 's|^\./||') >"$PATCHES_DIR/series"
}

@test "test lists: blank lines, comments and CRLF are ignored; a bad line names file and line" {
	printf '# head\n\nguest_memfd_test 300\n   \n  x86/foo_test  600  -g  -n 2  # why\r\n#expect-skip x86/foo_test\n' >"$BATS_TEST_TMPDIR/a.list"
	run bash -c ". '$ROOT/scripts/lib.sh'; list_tests '$BATS_TEST_TMPDIR/a.list'; list_expected_skips '$BATS_TEST_TMPDIR/a.list'"
	[ "$status" -eq 0 ]
	[ "$output" = $'guest_memfd_test 300\nx86/foo_test 600 -g -n 2\nx86/foo_test' ]
	printf 'guest_memfd_test\n' >"$BATS_TEST_TMPDIR/b.list"
	run bash -c ". '$ROOT/scripts/lib.sh'; list_tests '$BATS_TEST_TMPDIR/b.list'"
	[ "$status" -ne 0 ]
	[[ $output == *"b.list:1: \"guest_memfd_test\": a test line is"* ]]
}

@test "every list in vm/ parses" {
	for l in "$ROOT"/vm/*.list; do
		run bash -c ". '$ROOT/scripts/lib.sh'; list_tests '$l'"
		[ "$status" -eq 0 ] || { echo "$l: $output"; false; }
		[ -n "$output" ]
		# A testbed/NAME test is built from tests/kvm/NAME.c.
		for t in $(awk '$1 ~ /^testbed\// { sub(/^testbed\//, "", $1); print $1 }' <<<"$output"); do
			[ -f "$ROOT/tests/kvm/$t.c" ] || { echo "$l: testbed/$t: no tests/kvm/$t.c"; false; }
		done
	done
}

fake_run() {	# LIST: vm.sh with the stub qemu and a fake kernel and test binaries
	mkdir -p "$BUILD/tests/x86" "$BUILD/tests/testbed"
	printf '#!/bin/sh\n' >"$BUILD/tests/guest_memfd_test"
	cp "$BUILD/tests/guest_memfd_test" "$BUILD/tests/x86/foo_test"
	cp "$BUILD/tests/guest_memfd_test" "$BUILD/tests/testbed/bar_test"
	chmod +x "$BUILD/tests/guest_memfd_test" "$BUILD/tests/x86/foo_test" "$BUILD/tests/testbed/bar_test"
	: >"$BUILD/bzImage"
	QEMU=$STUBS/qemu ACCEL=tcg run "$ROOT/scripts/vm.sh" "$BUILD/bzImage" "$BUILD/tests" "$1" "$BUILD/run"
}

@test "vm.sh: a list with blank lines runs, and the kernel is told to panic on a hang" {
	printf 'guest_memfd_test 300\n\n# c\n\nx86/foo_test 300 -x\ntestbed/bar_test 300\n\n' >"$BATS_TEST_TMPDIR/a.list"
	FAKE_QEMU_ARGS=$BATS_TEST_TMPDIR/qemu.args fake_run "$BATS_TEST_TMPDIR/a.list"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"3 passed, 0 failed, 0 skipped"* ]]
	# Tests in subdirectories (x86/, testbed/) keep their paths in the VM's /tests.
	gzip -dc "$BUILD/run/initramfs.cpio.gz" | cpio -t --quiet | grep -qx 'tests/testbed/bar_test'
	grep -q 'hung_task_panic=1 softlockup_panic=1' "$BATS_TEST_TMPDIR/qemu.args"
	[[ $output == *"# accelerator: TCG (ACCEL=tcg)"* ]]
}

@test "vm.sh: an expected skip passes only for the reason the list gives" {
	printf 'guest_memfd_test 300\nx86/foo_test 300\n#expect-skip x86/foo_test no SNP here\n' \
		>"$BATS_TEST_TMPDIR/a.list"
	FAKE_QEMU_SKIP="x86/foo_test no SNP here (KVM_CAP_VM_TYPES)" fake_run "$BATS_TEST_TMPDIR/a.list"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"1 passed, 0 failed, 0 skipped, 1 skipped as expected"* ]]
	FAKE_QEMU_SKIP="x86/foo_test no gup_test" fake_run "$BATS_TEST_TMPDIR/a.list"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *'# x86/foo_test skipped, but not because "no SNP here"'* ]]
	[[ $output == *"1 passed, 1 failed, 1 skipped"* ]]
	FAKE_QEMU_SKIP="guest_memfd_test no SNP here" fake_run "$BATS_TEST_TMPDIR/a.list"
	[ "$status" -ne 0 ]
	# The reason must begin the skip's reason, whatever the spaces in the list.
	printf 'x86/foo_test 300\n#expect-skip   x86/foo_test   no SNP here\n' >"$BATS_TEST_TMPDIR/b.list"
	FAKE_QEMU_SKIP="x86/foo_test no SNP here, really" fake_run "$BATS_TEST_TMPDIR/b.list"
	[ "$status" -eq 0 ]
	FAKE_QEMU_SKIP="x86/foo_test other; reason: no SNP here" fake_run "$BATS_TEST_TMPDIR/b.list"
	[ "$status" -ne 0 ]
}

@test "selftests.sh: a testbed/ name without a source in tests/kvm/ is refused, named" {
	# Any selftests Makefile will do: tests/kvm/testbed.mk refuses before anything builds.
	mkdir -p "$BATS_TEST_TMPDIR/src/tools/testing/selftests/kvm"
	printf 'all:\n' >"$BATS_TEST_TMPDIR/src/tools/testing/selftests/kvm/Makefile"
	run "$ROOT/scripts/selftests.sh" "$BATS_TEST_TMPDIR/src" "$BUILD/obj" "$BUILD/st" testbed/no_such_test
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"no test bed source for testbed/no_such_test: testbed/NAME is built from $ROOT/tests/kvm/NAME.c"* ]]
	[[ $output == *"selftest build failed"* ]]
}

@test "vm.sh: a kernel that did not arm the hang watchdogs fails the run" {
	printf 'guest_memfd_test 300\n' >"$BATS_TEST_TMPDIR/a.list"
	FAKE_QEMU=unarmed fake_run "$BATS_TEST_TMPDIR/a.list"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"did not arm the hang watchdogs"* ]]
}

# start_hung_vm [setsid]: vm.sh in the background with a stub qemu that hangs; sets
# pid (of vm.sh) once the stub runs. The stub sleeps for a length no other process
# has, to be found by.
start_hung_vm() {
	printf 'guest_memfd_test 300\n' >"$BATS_TEST_TMPDIR/a.list"
	mkdir -p "$BUILD/tests"
	printf '#!/bin/sh\n' >"$BUILD/tests/guest_memfd_test"
	chmod +x "$BUILD/tests/guest_memfd_test"
	: >"$BUILD/bzImage"
	export FAKE_QEMU_SLEEP=$((100000 + RANDOM))
	FAKE_QEMU=hang QEMU=$STUBS/qemu ACCEL=tcg "$@" "$ROOT/scripts/vm.sh" "$BUILD/bzImage" \
		"$BUILD/tests" "$BATS_TEST_TMPDIR/a.list" "$BUILD/run" >/dev/null 2>&1 3>&- &
	pid=$!
	local i
	for i in $(seq 50); do qemu_running && break; sleep 0.1; done
	qemu_running
}
qemu_running() { pgrep -f "sleep $FAKE_QEMU_SLEEP" >/dev/null; }

@test "vm.sh: ^C stops the VM at once and leaves no qemu behind" {
	# A terminal's ^C is SIGINT to the foreground process group: vm.sh gets its own
	# group here (setsid), and the signal goes to all of it.
	start_hung_vm setsid
	kill -INT -- -"$pid"
	local i
	for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null
	! qemu_running
}

@test "vm.sh: a TERM to vm.sh alone stops qemu too" {
	start_hung_vm
	kill -TERM "$pid"
	local i
	for i in $(seq 30); do qemu_running || break; sleep 0.1; done
	! qemu_running
}

@test "vm/run-test.sh: a test's output reaches the console while it runs" {
	mkdir -p "$BATS_TEST_TMPDIR/t"
	printf '#!/bin/sh\necho "Seed: 42"\nsleep 20\n' >"$BATS_TEST_TMPDIR/t/slow_test"
	chmod +x "$BATS_TEST_TMPDIR/t/slow_test"
	RUN_TMP=$BATS_TEST_TMPDIR TESTS_DIR=$BATS_TEST_TMPDIR/t busybox sh -c ". '$ROOT/vm/run-test.sh'; cd /; run_test slow_test 30" \
		>"$BATS_TEST_TMPDIR/console" 2>&1 3>&- &
	local pid=$! i
	for i in $(seq 30); do grep -q 'Seed: 42' "$BATS_TEST_TMPDIR/console" && break; sleep 0.1; done
	kill -0 "$pid"	# still running
	grep -q 'Seed: 42' "$BATS_TEST_TMPDIR/console"
	pkill -f "$BATS_TEST_TMPDIR/t/slow_test" || true
	kill "$pid" 2>/dev/null || true
}

@test "vm/run-test.sh: exit status, timeout, harness skips and the reason of a skip" {
	mkdir -p "$BATS_TEST_TMPDIR/t"
	printf '#!/bin/sh\nexit 3\n' >"$BATS_TEST_TMPDIR/t/fail_test"
	printf '#!/bin/sh\necho "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:1 error:0"\n' >"$BATS_TEST_TMPDIR/t/skip_test"
	printf '#!/bin/sh\necho "1..0 # SKIP - no SNP here"\nexit 4\n' >"$BATS_TEST_TMPDIR/t/why_test"
	# A hung test whose child outlives it must not hold the run up.
	printf '#!/bin/sh\nsleep 30 &\nsleep 30\n' >"$BATS_TEST_TMPDIR/t/hang_test"
	chmod +x "$BATS_TEST_TMPDIR"/t/*
	local t0=$SECONDS
	run env RUN_TMP="$BATS_TEST_TMPDIR" TESTS_DIR="$BATS_TEST_TMPDIR/t" busybox sh -c ". '$ROOT/vm/run-test.sh'; cd /;
		run_test fail_test 5 >/dev/null; a=\$rc; run_test skip_test 5 >/dev/null; b=\$rc;
		run_test hang_test 1 >/dev/null; c=\$rc; run_test why_test 5 >/dev/null;
		echo \$a \$b \$c \$rc \$why"
	pkill -f 'sleep 30' || true
	[ "$output" = "3 4 137 4 no SNP here" ]
	[ $((SECONDS - t0)) -lt 15 ]
}

@test "test.sh: options are read after the list too, and two lists are refused" {
	run "$ROOT/scripts/test.sh" "$ROOT/vm/run.list" --no-such-option
	[ "$status" -ne 0 ]
	[[ $output == *"unknown option --no-such-option"* ]]
	run "$ROOT/scripts/test.sh" "$ROOT/vm/run.list" "$ROOT/vm/tests.list"
	[ "$status" -ne 0 ]
	[[ $output == *"two test lists given"* ]]
	# make run passes --show; the demo's narration is printed only with it.
	run make -n -C "$ROOT" run
	[[ $output == *"scripts/test.sh --show vm/run.list"* ]]
}

@test "every 'make TARGET' the scripts, Makefile and README name exists" {
	local t targets
	targets=$(make -C "$ROOT" -pRrq : 2>/dev/null | sed -n 's/^\([a-z][a-z0-9-]*\):.*/\1/p' | sort -u)
	for t in $(cat "$ROOT"/scripts/*.sh "$ROOT/Makefile" "$ROOT/README.md" |
		grep -oE "make [a-z][a-z0-9-]+" | awk '{ print $2 }' | sort -u); do
		# English, and targets of the kernel's own Makefile.
		case $t in
		with | sure | it | them | the | a) continue ;;
		htmldocs | kselftest-* | headers_install | tinyconfig | olddefconfig | vmlinux | modules | \
			menuconfig | xconfig | run_tests) continue ;;
		esac
		grep -qx "$t" <<<"$targets" || { echo "make $t is named but is no target"; false; }
	done
}

# fetch_deb with the archive stubbed: SUITE_VERSIONS is what every suite offers.
fetch_with() {
	run bash -c "set -euo pipefail; . '$ROOT/scripts/base.sh'
		suite_version() { printf '%s\n' \$SUITE_VERSIONS; }
		apt_local() { touch \"\$APTDIR/${PACKAGE:-linux-source-7.3}_\${3#*=}_all.deb\"; }
		mkdir -p \"\$APTDIR\"; fetch_deb; echo \"chose \$DEB_VERSION\""
}

@test "base: a missing pinned version fails clearly; GMEM_BASE_VERSION opts in to another" {
	SUITE_VERSIONS="7.3.9-1~bpo13+1" fetch_with
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"7.3.4-1~bpo13+1, the base pinned in BASE, is in none of"* ]]
	[[ $output == *"GMEM_BASE_VERSION=<version>"* ]]
	[[ $output == *"7.3.9-1~bpo13+1"* ]]
	SUITE_VERSIONS="7.3.9-1~bpo13+1 7.3.4-1~bpo13+1" fetch_with
	[ "$status" -eq 0 ]
	[[ $output == *"chose 7.3.4-1~bpo13+1"* ]]
	GMEM_BASE_VERSION="7.3.9-1~bpo13+1" SUITE_VERSIONS="7.3.9-1~bpo13+1" fetch_with
	[ "$status" -eq 0 ]
	[[ $output == *"chose 7.3.9-1~bpo13+1"* ]]
}

@test "base: a tree of another base version is refused, and runs name an unpinned base" {
	make_fake_tree
	GMEM_BASE_VERSION="7.3.9-1" run "$ROOT/scripts/base.sh"
	[ "$status" -ne 0 ]
	[[ $output == *"holds the base '$BASE_SUBJECT', but linux-source-7.3 7.3.9-1 is asked"* ]]
	run bash -c ". '$ROOT/scripts/lib.sh'; base_note"
	[ -z "$output" ]
	git -C "$BUILD/linux" tag -f base "$(git -C "$BUILD/linux" commit-tree 'base^{tree}' -m 'Debian linux-source-7.3 7.3.9-1')" >/dev/null
	run bash -c ". '$ROOT/scripts/lib.sh'; base_note"
	[[ $output == *"NOTE: the base is 'Debian linux-source-7.3 7.3.9-1', not the pinned"* ]]
}

@test "base: an interrupted import leaves no tree behind, and the next one works" {
	# A Debian-like source package with the packaging block in .gitignore.
	local pkg=$BATS_TEST_TMPDIR/pkg src=$BATS_TEST_TMPDIR/linux-source-7.3
	mkdir -p "$pkg/DEBIAN" "$pkg/usr/src" "$src/virt"
	printf 'Package: linux-source-7.3\nVersion: 9.9\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n' >"$pkg/DEBIAN/control"
	printf '*.o\n\n#\n# Debian packaging: ignore everything at the top level\n/*\n!/debian/\n' >"$src/.gitignore"
	echo x >"$src/virt/x.c"
	tar -cJf "$pkg/usr/src/linux-source-7.3.tar.xz" -C "$BATS_TEST_TMPDIR" linux-source-7.3
	dpkg-deb -b "$pkg" "$BATS_TEST_TMPDIR/src.deb" >/dev/null
	# git dies in the middle of the import, as a ^C would stop it.
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\n[ "$1" = commit-tree ] && exit 130\nexec /usr/bin/git "$@"\n' >"$BATS_TEST_TMPDIR/bin/git"
	chmod +x "$BATS_TEST_TMPDIR/bin/git"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run bash -c ". '$ROOT/scripts/base.sh'; import_base '$BATS_TEST_TMPDIR/src.deb' 9.9"
	[ "$status" -ne 0 ]
	[ ! -e "$BUILD/linux" ]
	[ ! -e "$BUILD/linux.importing" ]
	run bash -c ". '$ROOT/scripts/base.sh'; import_base '$BATS_TEST_TMPDIR/src.deb' 9.9"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(git -C "$BUILD/linux" log -1 --format=%s base)" = "Debian linux-source-7.3 9.9" ]
	[ "$(cat "$BUILD/linux/.gitignore")" = "*.o" ]
}

@test "make clean keeps a tree with unexported commits or edits, removes it once exported" {
	make_fake_tree
	add_commit "KVM: one" virt/kvm/guest_memfd.c "int one;"
	mkdir -p "$BUILD/obj-test" "$RESULTS/x"
	run "$ROOT/scripts/clean.sh"
	echo "$output"
	[[ $output == *"kept $BUILD/linux"* ]]
	[ -d "$BUILD/linux/.git" ] && [ ! -e "$BUILD/obj-test" ] && [ ! -e "$RESULTS" ]
	export_patches
	echo "int edit;" >>"$BUILD/linux/virt/kvm/kvm_main.c"
	run "$ROOT/scripts/clean.sh"
	[[ $output == *"uncommitted edits"* ]]
	[ -d "$BUILD/linux/.git" ]
	git -C "$BUILD/linux" checkout -q -- .
	# A reworded changelog is work too.
	git -C "$BUILD/linux" commit -q --amend -m "KVM: one, with a better changelog"
	run "$ROOT/scripts/clean.sh"
	[[ $output == *"kept $BUILD/linux"* ]]
	export_patches
	run "$ROOT/scripts/clean.sh"
	[ "$status" -eq 0 ]
	[ ! -e "$BUILD" ]
}

@test "make export refuses a tree that lags patches/" {
	make_fake_tree
	add_commit "KVM: one" virt/kvm/guest_memfd.c "int one;"
	export_patches
	run "$ROOT/scripts/tree.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	# patches/ moves on (git pull) while the tree stays behind.
	git -C "$BUILD/linux" checkout -q -b newer series
	add_commit "KVM: two" virt/kvm/kvm_main.c "int two;"
	git -C "$BUILD/linux" format-patch -q --zero-commit --no-signature --notes -o "$PATCHES_DIR" -1 --start-number 2
	ls "$PATCHES_DIR"/0002-*.patch | xargs -n1 basename >>"$PATCHES_DIR/series"
	git -C "$BUILD/linux" checkout -q series
	run "$ROOT/scripts/export.sh"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"that $BUILD/linux has not seen"* ]]
	[ -f "$PATCHES_DIR"/0002-KVM-two.patch ]
	# An edit in the tree after make tree exports fine.
	run "$ROOT/scripts/tree.sh"
	git -C "$BUILD/linux" commit -q --amend -m "KVM: two, reworded"
	run "$ROOT/scripts/export.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -f "$PATCHES_DIR"/0002-KVM-two-reworded.patch ]
}

@test "make export refuses fixup commits, naming one, and leaves patches/ alone" {
	make_fake_tree
	add_commit "KVM: one" virt/kvm/guest_memfd.c "int one;"
	export_patches
	run "$ROOT/scripts/tree.sh"
	[ "$status" -eq 0 ]
	add_commit "fixup! KVM: one" virt/kvm/guest_memfd.c "int one_fixed;"
	run "$ROOT/scripts/export.sh"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"fixup commits"*"fixup! KVM: one"* ]]
	[ "$(ls "$PATCHES_DIR"/*.patch | wc -l)" -eq 1 ]
}

# check_series: check-series on the fake tree with the stub make.
check_series() {
	export_patches
	git -C "$BUILD/linux" checkout -q series
	KMAKE=$STUBS/kmake run "$ROOT/scripts/check-series.sh"
	echo "$output"
}

@test "check-series: a link failure names the patch, the config and modpost's line" {
	make_fake_tree
	add_commit "KVM: fine" virt/kvm/guest_memfd.c "int fine;"
	add_commit "KVM: breaks the link" virt/kvm/guest_memfd.c "LINK_BREAKS"
	check_series
	[ "$status" -ne 0 ]
	[[ $output == *"ok: 0001-KVM-fine.patch"* ]]
	[[ $output == *"build of vmlinux and modules with (b) KVM=m, everything modules failed"* ]]
	[[ $output == *'modpost: "kvm_link_breaks" [arch/x86/kvm/kvm-amd.ko] undefined!'* ]]
	[[ $output == *"FAIL: 0002-KVM-breaks-the-link.patch"* ]]
	[[ $output == *"1 passed, 1 failed"* ]]
}

@test "check-series: new sparse warnings and an arm64 break fail; old warnings do not" {
	make_fake_tree
	echo SPARSE_BREAKS >>"$BUILD/linux/virt/kvm/kvm_main.c"
	git -C "$BUILD/linux" commit -q -am "$BASE_SUBJECT" --amend
	git -C "$BUILD/linux" tag -f base >/dev/null
	add_commit "KVM: keeps an old warning" virt/kvm/kvm_main.c "int x;"
	add_commit "KVM: adds a sparse warning" virt/kvm/guest_memfd.c "SPARSE_BREAKS"
	add_commit "KVM: breaks arm64" virt/kvm/guest_memfd.c "ARM64_BREAKS"
	check_series
	[ "$status" -ne 0 ]
	[[ $output == *"ok: 0001-KVM-keeps-an-old-warning.patch"* ]]
	[[ $output == *"sparse/W=1: new warnings in virt/kvm/guest_memfd.c"* ]]
	[[ $output == *"SPARSE_BREAKS is wrong"* ]]
	[[ $output == *"FAIL: 0002-KVM-adds-a-sparse-warning.patch"* ]]
	[[ $output == *"for arm64 (build-check-arm64.config) failed"* ]]
	[[ $output == *"FAIL: 0003-KVM-breaks-arm64.patch"* ]]
}

@test "check-series: a patch that does not apply is named and stops the run" {
	make_fake_tree
	add_commit "KVM: one" virt/kvm/guest_memfd.c "int one;"
	export_patches
	sed -i 's/^+int one;/+int one;\n+int two;/; s/^-int gmem;/-int nothere;/' "$PATCHES_DIR"/0001-*.patch
	printf '@@ -1 +1 @@\n-nope\n+nope\n' >>"$PATCHES_DIR"/0001-*.patch
	KMAKE=$STUBS/kmake run "$ROOT/scripts/check-series.sh"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"0001-KVM-one.patch"*"does not apply"* ]]
}

@test "make tree and make export keep a patch's notes below ---, whole" {
	make_fake_tree
	add_commit "KVM: one" virt/kvm/guest_memfd.c "int one;"
	git -C "$BUILD/linux" notes add -m $'Fixes: not given: no upstream history here.\n\ncheckpatch: FOO: why' HEAD
	run "$ROOT/scripts/export.sh"
	[ "$status" -eq 0 ]
	cp "$PATCHES_DIR"/0001-KVM-one.patch "$BATS_TEST_TMPDIR/first"
	run "$ROOT/scripts/tree.sh"
	[ "$status" -eq 0 ]
	[ "$(git -C "$BUILD/linux" notes show HEAD)" = $'Fixes: not given: no upstream history here.\n\ncheckpatch: FOO: why' ]
	run "$ROOT/scripts/export.sh"
	cmp "$BATS_TEST_TMPDIR/first" "$PATCHES_DIR"/0001-KVM-one.patch
}

@test "check-series: new W=1 warnings and new htmldocs warnings fail" {
	make_fake_tree
	add_commit "KVM: adds a W=1 warning" virt/kvm/guest_memfd.c "W1_BREAKS"
	add_commit "Documentation: KVM: adds a docs warning" Documentation/virt/kvm/api.rst "DOCS_BREAKS"
	check_series
	[ "$status" -ne 0 ]
	[[ $output == *"W=1: virt/kvm/guest_memfd.c: warning: variable 'x' set but not used [-Wunused-but-set-variable]"* ]]
	[[ $output == *"FAIL: 0001-KVM-adds-a-W-1-warning.patch"* ]]
	[[ $output == *"htmldocs SPHINXDIRS=virt/kvm: new warnings"* ]]
	[[ $output == *"Title underline too short."* ]]
	[[ $output == *"FAIL: 0002-Documentation-KVM-adds-a-docs-warning.patch"* ]]
}

@test "check-series: a sparse or a Sphinx that does not run is a failure, not a pass" {
	make_fake_tree
	add_commit "KVM: sparse is refused" virt/kvm/guest_memfd.c "NO_SPARSE"
	add_commit "Documentation: KVM: no Sphinx" Documentation/virt/kvm/api.rst "NO_SPHINX"
	check_series
	[ "$status" -ne 0 ]
	[[ $output == *"sparse did not run on virt/kvm/guest_memfd.c"* ]]
	[[ $output == *"htmldocs SPHINXDIRS=virt/kvm did not build"* ]]
	[[ $output == *"0 passed, 2 failed"* ]]
}

@test "make's variables (SRC=, T=) do not leak into the makes the scripts run" {
	# What "make test-fast SRC=build/linux" hands to its recipes.
	run env SRC=build/linux MAKEFLAGS=' -- SRC=build/linux' bash -c \
		". '$ROOT/scripts/lib.sh'; make -n -C '$ROOT/demo' KHDR=/usr/include O='$BATS_TEST_TMPDIR'"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"demo/gmem_demo.c"* ]]
}

@test "test.sh --debug: race windows that do not apply stop the run, named, before any build" {
	make_fake_tree
	add_commit "KVM: one" virt/kvm/guest_memfd.c "int one;"
	export_patches
	printf 'From 0 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] w\n\n---\n--- a/virt/kvm/guest_memfd.c\n+++ b/virt/kvm/guest_memfd.c\n@@ -1 +1 @@\n-int nothere;\n+int w;\n' \
		>"$BATS_TEST_TMPDIR/windows.patch"
	KMAKE=$STUBS/kmake RACE_WINDOWS=$BATS_TEST_TMPDIR/windows.patch \
		run "$ROOT/scripts/test.sh" --debug "$ROOT/vm/debug.list"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"ERROR: "*"windows.patch does not apply on top of the series"* ]]
	[[ $output != *"building the test kernel"* ]]
}

@test "mutants: every mutant of tests/mutants.list parses; a stale or ambiguous one is named" {
	run python3 "$ROOT/scripts/mutate.py" --ids "$ROOT/tests/mutants.list"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -ge 15 ]
	tree=$BATS_TEST_TMPDIR/tree
	mkdir -p "$tree/virt"
	printf 'int f(void)\n{\n\tif (a)\n\t\treturn 1;\n\tif (a)\n\t\treturn 2;\n}\n' >"$tree/virt/x.c"
	printf '@ T1 gone: a claim\nfile: virt/x.c\nfrom: if (b)\nto: if (0)\n' >"$BATS_TEST_TMPDIR/gone.list"
	run python3 "$ROOT/scripts/mutate.py" "$BATS_TEST_TMPDIR/gone.list" "$tree" T1
	[ "$status" -ne 0 ]
	[[ $output == *"gone.list:3: mutant T1: no line \"if (b)\" in virt/x.c"* ]]
	printf '@ T2 two: a claim\nfile: virt/x.c\nfrom: if (a)\nto: if (0)\n' >"$BATS_TEST_TMPDIR/two.list"
	run python3 "$ROOT/scripts/mutate.py" "$BATS_TEST_TMPDIR/two.list" "$tree" T2
	[ "$status" -ne 0 ]
	[[ $output == *"matches 2 lines of virt/x.c (3, 5); add \"after:\""* ]]
	printf '@ T3 second: a claim\nfile: virt/x.c\nafter: return 1;\nfrom: if (a)\nto: if (0)\n' \
		>"$BATS_TEST_TMPDIR/after.list"
	run python3 "$ROOT/scripts/mutate.py" "$BATS_TEST_TMPDIR/after.list" "$tree" T3
	[ "$status" -eq 0 ]
	[ "$(sed -n 5p "$tree/virt/x.c")" = "$(printf '\tif (0)')" ]
	[ "$(sed -n 3p "$tree/virt/x.c")" = "$(printf '\tif (a)')" ]
}
