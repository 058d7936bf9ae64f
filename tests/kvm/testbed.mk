# Test-bed-only KVM selftests: tests/kvm/NAME.c is built as $(OUTPUT)/testbed/NAME.
#
# The fuzzer (guest_memfd_conversion_fuzz_test) and the benchmark
# (guest_memfd_conversion_perf_test) left the patch series when upstream reviewers
# asked for a smaller one (neither kills a mutant the series' own tests miss); they
# live here and still build against the KVM selftest library of the patched tree.
#
# Read after the selftests' own Makefile, so that these build exactly like the
# selftests of Makefile.kvm (same CC, CFLAGS, LDFLAGS, library objects):
#   make -C SRC/tools/testing/selftests/kvm -f Makefile -f $ROOT/tests/kvm/testbed.mk \
#        OUTPUT=OUT KHDR_INCLUDES="-isystem OBJ/usr/include" OUT/testbed/NAME
# (scripts/selftests.sh does this for the testbed/ names of a test list).

TESTBED_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
TESTBED_PROGS := $(patsubst $(TESTBED_DIR)/%.c,$(OUTPUT)/testbed/%,$(wildcard $(TESTBED_DIR)/*.c))
TESTBED_OBJS := $(TESTBED_PROGS:=.o)

# A testbed/ name without a source: say so, rather than make's "No rule to make target".
testbed_missing := $(filter-out $(TESTBED_PROGS) $(TESTBED_OBJS),$(filter $(OUTPUT)/testbed/%,$(MAKECMDGOALS)))
ifneq ($(testbed_missing),)
$(error no test bed source for $(patsubst $(OUTPUT)/%,%,$(testbed_missing)): testbed/NAME is built from $(TESTBED_DIR)/NAME.c)
endif

$(shell mkdir -p $(OUTPUT)/testbed)

# The recipes of Makefile.kvm's TEST_GEN_PROGS rules; CFLAGS' -I$(<D) adds tests/kvm/.
$(TESTBED_PROGS): %: %.o $(LIBKVM_OBJS)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH) $< $(LIBKVM_OBJS) $(LDLIBS) -o $@
$(TESTBED_OBJS): $(OUTPUT)/testbed/%.o: $(TESTBED_DIR)/%.c $(GEN_HDRS)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c $< -o $@

-include $(TESTBED_OBJS:.o=.d)
EXTRA_CLEAN += $(TESTBED_PROGS) $(TESTBED_OBJS) $(TESTBED_OBJS:.o=.d)
