# guest_memfd in-place shared/private conversion: the patch series and its test bed.
# See README.md. Every target is a script under scripts/.
SHELL := /bin/bash

.PHONY: all test test-fast run bench soak test-kcsan test-npt0 check-series tree export base kernel deps clean help

all: help

help:
	@echo "make test          check the series, build and boot the patched kernel, run the tests,"
	@echo "                   then again on the debug kernel (KASAN, lockdep, kmemleak)"
	@echo "make test-fast     make test without the debug kernel pass (the edit-test loop)"
	@echo "make run           build and boot the patched kernel, run the demonstration"
	@echo "make bench         build and boot the patched kernel, run the conversion benchmark"
	@echo "make soak          the long reliability run: 5 seeds, 10^6 conversions, 10^7 fuzzer calls"
	@echo "make test-kcsan    the stress test and conversion tests on a KCSAN kernel"
	@echo "make test-npt0     the tests with kvm_amd.npt=0 (shadow paging; SW-protected tests skip)"
	@echo "make check-series  apply, build, checkpatch and kernel-doc each patch in turn"
	@echo "make tree          build/linux: git work tree with patches/ applied as commits"
	@echo "make export        regenerate patches/ from the commits in build/linux"
	@echo "make clean         remove build/ and results/ (keeps downloads in ~/.cache)"

deps:
	@bash -c '. scripts/lib.sh && ensure_host_packages'

base: deps
	@scripts/base.sh

tree: base
	@scripts/tree.sh

export:
	@scripts/export.sh

check-series: base
	@scripts/check-series.sh

test: deps check-series
	@scripts/test.sh vm/tests.list
	@scripts/test.sh --debug vm/debug.list

test-fast: deps check-series
	@scripts/test.sh vm/tests.list

run: deps
	@scripts/test.sh vm/run.list --show

bench: deps
	@scripts/bench.sh

soak: deps
	@scripts/soak.sh

test-kcsan: deps
	@scripts/test.sh --kcsan vm/kcsan.list

test-npt0: deps
	@scripts/test.sh --npt0 vm/npt0.list

clean:
	rm -rf build results
