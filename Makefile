# guest_memfd in-place shared/private conversion: the patch series and its test bed.
# See README.md. Every target is a script under scripts/.
#   T='name [args]'  run only that test (test, test-fast, test-debug): no check-series
#   SRC=build/linux  check and test that work tree instead of patches/
SHELL := /bin/bash

.PHONY: all test test-fast test-debug run shell bench soak test-kcsan test-npt0 check-series \
	check-testbed mutants tree export base deps clean help

all: help

help:
	@echo "make test          check the test bed and the series, build and boot the patched kernel,"
	@echo "                   run the tests, then again on the debug kernel (KASAN, lockdep, kmemleak)"
	@echo "make test-fast     make test without the debug kernel pass (the edit-test loop)"
	@echo "make test-debug    only the debug kernel pass"
	@echo "make run           build and boot the patched kernel, run the demonstration"
	@echo "make shell         a shell inside the test VM, with the tests in /tests"
	@echo "make bench         build and boot the patched kernel, run the conversion benchmark"
	@echo "make soak          the long reliability run: 5 seeds, 10^6 conversions, 10^7 fuzzer calls"
	@echo "make test-kcsan    the stress test and conversion tests on a KCSAN kernel"
	@echo "make test-npt0     the tests with kvm_amd.npt=0 (shadow paging; SW-protected tests skip)"
	@echo "make mutants       the mutation suite: each mutant of tests/mutants.list on top of the"
	@echo "                   series, built and run through vm/tests.list (about 3 min a mutant)"
	@echo "make check-series  per patch: build and link vmlinux and modules (3 configs), arm64,"
	@echo "                   sparse, W=1, htmldocs, checkpatch --strict, kernel-doc"
	@echo "                   (CHECK_LEVEL=quick: config (c) linked after the last patch only)"
	@echo "make check-testbed the test bed's own tests (tests/testbed.bats)"
	@echo "make tree          build/linux: git work tree with patches/ applied as commits"
	@echo "make export        regenerate patches/ from the commits in build/linux"
	@echo "make clean         remove build/ and results/ (keeps downloads in ~/.cache, and"
	@echo "                   build/linux if it holds work not in patches/)"
	@echo "Variables: T='name [args]' runs one test; SRC=build/linux tests the work tree."

deps:
	@bash -c '. scripts/lib.sh && ensure_host_packages'

base: deps
	@scripts/base.sh

tree: base
	@scripts/tree.sh

export:
	@scripts/export.sh

check-testbed: deps
	@bats tests/testbed.bats

check-series: base
	@scripts/check-series.sh

# With T set, only that test runs, on the plain kernel (test) or the debug one.
test: deps
	@[ -n "$$T" ] || $(MAKE) -s check-testbed check-series
	@scripts/test.sh vm/tests.list
	@[ -n "$$T" ] || scripts/test.sh --debug vm/debug.list

test-fast: deps
	@[ -n "$$T" ] || $(MAKE) -s check-testbed check-series
	@scripts/test.sh vm/tests.list

test-debug: deps
	@scripts/test.sh --debug vm/debug.list

run: deps
	@scripts/test.sh --show vm/run.list

shell: deps
	@scripts/test.sh --shell vm/tests.list

bench: deps
	@scripts/bench.sh

soak: deps
	@scripts/soak.sh

test-kcsan: deps
	@scripts/test.sh --kcsan vm/kcsan.list

mutants: deps
	@scripts/mutants.sh

test-npt0: deps
	@scripts/test.sh --npt0 vm/npt0.list

clean:
	@scripts/clean.sh
