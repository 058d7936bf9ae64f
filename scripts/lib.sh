# Shared settings and helpers for the project's scripts. Source it; do not run it.
# Tool and package names live here and nowhere else.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
# Downloads and apt state survive "make clean" and fresh clones on the same machine.
CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gmem-inplace}
TREE=$BUILD/linux		# developer work tree: base commit + series as commits
TEST_TREE=$BUILD/test-tree	# what "make test" builds: base + patches/ applied by git am
KOBJ=${KOBJ:-$BUILD/obj-test}	# out-of-tree objects of the test kernel
SELFTESTS_OUT=$BUILD/selftests
RESULTS=${RESULTS:-$ROOT/results}

# Debian packages the scripts need, by the command that proves each is there.
declare -A HOST_PACKAGES=(
	[gcc]=gcc [make]=make [flex]=flex [bison]=bison [bc]=bc [perl]=perl
	[python3]=python3 [ccache]=ccache [cpio]=cpio [xz]=xz-utils [rsync]=rsync
	[qemu-system-x86_64]=qemu-system-x86 [git]=git [gzip]=gzip
	[gnuplot]=gnuplot-nox [sparse]=sparse [aarch64-linux-gnu-gcc]=gcc-aarch64-linux-gnu
	[sphinx-build]=python3-sphinx [bats]=bats [pgrep]=procps
)
# Packages with no command to probe: checked by dpkg name.
HOST_LIBS=(libelf-dev libssl-dev busybox-static uuid-dev python3-sphinx-rtd-theme python3-yaml
	python3-ply python3-git)

# The Makefile's variables (SRC=, T=, FORCE=) reach the scripts as environment
# variables; make's own MAKEFLAGS would also pass them as overrides to every make the
# scripts run (the demo's Makefile has a SRC of its own), so drop it.
unset MAKEFLAGS MFLAGS MAKEOVERRIDES

say()  { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

jobs_count() { nproc 2>/dev/null || echo 2; }

# Install whatever is missing with apt-get; name the package and show apt's error on failure.
ensure_host_packages() {
	local missing=() cmd pkg
	for cmd in "${!HOST_PACKAGES[@]}"; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("${HOST_PACKAGES[$cmd]}")
	done
	for pkg in "${HOST_LIBS[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
	say "installing: ${missing[*]}"
	local log
	log=$(mktemp)
	if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
		grep -E '^(E|W):' "$log" >&2 || tail -n 20 "$log" >&2
		rm -f "$log"
		die "apt-get could not install: ${missing[*]} (apt's error above; check the network and /etc/apt/sources.list)"
	fi
	rm -f "$log"
}

# Kernel make with ccache; the base dir lets different checkouts share cache hits.
# KMAKE replaces make (the test bed's own tests use a stub).
kmake() {
	${KMAKE:-make} -s CC="ccache gcc" HOSTCC="ccache gcc" KCFLAGS="${KCFLAGS:-}" \
		-j"$(jobs_count)" "$@"
}
export CCACHE_BASEDIR=$ROOT

# The one parser of the test lists (vm/*.list). Prints "name limit [args]" per test:
# comments ("#" at the start or after a blank), blank lines and extra blanks dropped,
# CRLF tolerated. A line without a numeric time limit is an error naming file and line.
list_tests() {
	[ -f "$1" ] || die "no test list at $1"
	awk -v f="$1" '
		{ sub(/\r$/, ""); sub(/(^|[ \t])#.*/, "") }
		NF == 0 { next }
		$2 !~ /^[0-9]+$/ {
			printf "ERROR: %s:%d: \"%s\": a test line is \"name time-limit-seconds [args]\"\n", f, FNR, $0 > "/dev/stderr"
			bad = 1; next
		}
		{ $1 = $1; print }
		END { exit bad }' "$1"
}

# The selftests a list names, a name a line: entries under demo/ are the reference
# VMM, which scripts/demo.sh builds.
list_selftests() {
	list_tests "$1" | awk '$1 !~ /^demo\// { print $1 }'
}

# Tests whose SKIP is the expected result: "#expect-skip NAME [REASON]" lines of a
# list, printed as "NAME [REASON]". With a REASON, the skip's reason must begin with it.
list_expected_skips() {
	tr -d '\r' <"$1" | sed -n 's/^#expect-skip[[:space:]]\{1,\}//p' | sed 's/[[:space:]]*$//'
}

# The accelerator for the test VM: KVM with -cpu host where the host can run a guest
# that runs KVM itself (vmx/svm in /proc/cpuinfo, /dev/kvm usable, nested virtualization
# on in kvm_intel or kvm_amd), TCG otherwise. ACCEL=kvm or ACCEL=tcg forces one.
# Sets QEMU_ACCEL (qemu options) and ACCEL_WHY.
pick_accel() {
	local want=${ACCEL:-auto}
	case $want in
	tcg) QEMU_ACCEL=(-accel tcg,thread=single -cpu max) ACCEL_WHY="TCG (ACCEL=tcg)" ;;
	# One host thread per vCPU: real parallelism for the race hunters (experimental:
	# see docs/reliability.md).
	tcg-multi) QEMU_ACCEL=(-accel tcg,thread=multi -cpu max) ACCEL_WHY="TCG, multi-threaded (ACCEL=tcg-multi)" ;;
	kvm) QEMU_ACCEL=(-accel kvm -cpu host) ACCEL_WHY="KVM -cpu host (ACCEL=kvm)" ;;
	auto)
		if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo &&
			grep -qsxE 'Y|1' /sys/module/kvm_intel/parameters/nested /sys/module/kvm_amd/parameters/nested; then
			QEMU_ACCEL=(-accel kvm -cpu host) ACCEL_WHY="KVM -cpu host (/dev/kvm usable, vmx/svm, nested on)"
		else
			QEMU_ACCEL=(-accel tcg,thread=single -cpu max)
			ACCEL_WHY="TCG, single-threaded (no /dev/kvm that can run a KVM-capable guest: no vmx/svm, no nested virtualization, or /dev/kvm not usable)"
		fi ;;
	*) die "ACCEL=$want: use auto, kvm, tcg or tcg-multi" ;;
	esac
}

# For run summaries: a line when the base is not the pinned version (GMEM_BASE_VERSION).
base_note() {
	local subject want
	want=$(. "$ROOT/BASE" && echo "Debian $PACKAGE $VERSION")
	subject=$(git -C "$TREE" log -1 --format=%s base 2>/dev/null) || return 0
	[ "$subject" = "$want" ] ||
		echo "# NOTE: the base is '$subject', not the pinned '$want' (GMEM_BASE_VERSION); its sha256 was not checked"
}
