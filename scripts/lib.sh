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
RESULTS=$ROOT/results

# Debian packages the scripts need, by the command that proves each is there.
declare -A HOST_PACKAGES=(
	[gcc]=gcc [make]=make [flex]=flex [bison]=bison [bc]=bc [perl]=perl
	[python3]=python3 [ccache]=ccache [cpio]=cpio [xz]=xz-utils [rsync]=rsync
	[qemu-system-x86_64]=qemu-system-x86 [git]=git [gzip]=gzip
	[gnuplot]=gnuplot-nox
)
# Packages with no command to probe: checked by dpkg name.
HOST_LIBS=(libelf-dev libssl-dev busybox-static uuid-dev)

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
kmake() {
	make -s CC="ccache gcc" HOSTCC="ccache gcc" KCFLAGS="${KCFLAGS:-}" \
		-j"$(jobs_count)" "$@"
}
export CCACHE_BASEDIR=$ROOT
