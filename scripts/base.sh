#!/usr/bin/env bash
# Fetch Debian's linux-source-7.3 with a project-local apt configuration, verify it,
# and import it into $TREE as the commit tagged "base". Does nothing if that exists.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$ROOT/BASE"

APTDIR=$CACHE/apt
KEYRINGS=$(ls /usr/share/keyrings/debian-archive-*.gpg 2>/dev/null | grep -v removed | paste -sd, -)

apt_local() {
	local tool=$1; shift
	"$tool" -o Dir::Etc::SourceList="$APTDIR/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$APTDIR/lists" \
		-o Dir::State::status=/dev/null \
		-o Dir::Cache="$APTDIR/cache" \
		-o Dir::Etc::Preferences=/dev/null \
		-o Dir::Etc::PreferencesParts=/dev/null \
		-o Debug::NoLocking=1 "$@"
}

# Print "version" of $PACKAGE in one suite, empty if absent.
suite_version() {
	local suite=$1
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
	echo "deb [signed-by=$KEYRINGS] http://deb.debian.org/debian $suite main" >"$APTDIR/sources.list"
	local log=$APTDIR/update-$suite.log
	if ! apt_local apt-get update >"$log" 2>&1 || grep -q '^[WE]:.*\(NO_PUBKEY\|not signed\|Failed to fetch\)' "$log"; then
		grep -E '^(E|W):' "$log" >&2 || tail -n 5 "$log" >&2
		warn "apt-get update of suite $suite failed (see above)"
		return 0
	fi
	apt_local apt-cache madison "$PACKAGE" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}'
}

# The version to test: the pinned one, or GMEM_BASE_VERSION where the user opts in to
# another (its tarball is then not checked against the pin, and runs say so).
wanted_version() { echo "${GMEM_BASE_VERSION:-$VERSION}"; }

fetch_deb() {
	local suite versions want seen=""
	want=$(wanted_version)
	for suite in $SUITES; do
		versions=$(suite_version "$suite")
		[ -n "$versions" ] && seen="$seen $suite: $(sort -V <<<"$versions" | paste -sd' ' -);"
		if grep -qxF "$want" <<<"$versions"; then
			say "downloading $PACKAGE $want from $suite (apt verifies the archive signature)"
			( cd "$APTDIR" && apt_local apt-get download "$PACKAGE=$want" ) >"$APTDIR/download.log" 2>&1 ||
				{ grep -E '^(E|W):' "$APTDIR/download.log" >&2; die "apt-get download $PACKAGE=$want failed (see above)"; }
			DEB=$(ls "$APTDIR"/"${PACKAGE}"_*"${want##*:}"_all.deb)
			DEB_VERSION=$want
			return 0
		fi
	done
	if [ "$want" = "$VERSION" ]; then
		die "$PACKAGE $VERSION, the base pinned in BASE, is in none of: $SUITES (they have:${seen:- nothing}). To test against another version, run again with GMEM_BASE_VERSION=<version> (the run then says so and the sha256 pin is not checked), or put the pinned .deb in $APTDIR/."
	fi
	die "$PACKAGE $want (GMEM_BASE_VERSION) is in none of: $SUITES (they have:${seen:- nothing})"
}

# import_base DEB VERSION: unpack, verify and commit the base in a scratch directory,
# then move it to $TREE in one rename, so that an interrupted import leaves no $TREE.
import_base() {
	local deb=$1 version=$2 scratch=$BUILD/linux.importing
	rm -rf "$scratch" "$BUILD/base-unpack"
	mkdir -p "$scratch"
	trap "rm -rf '$scratch'" EXIT
	say "unpacking $(basename "$deb")"
	dpkg-deb -x "$deb" "$scratch/deb"
	if [ "$version" = "$VERSION" ]; then
		local sum
		sum=$(sha256sum "$scratch/deb/$TARBALL" | cut -d' ' -f1)
		[ "$sum" = "$TARBALL_SHA256" ] ||
			die "sha256 of $TARBALL is $sum, BASE pins $TARBALL_SHA256: the download is not the known $VERSION; delete $deb and retry"
	else
		warn "testing against $PACKAGE $version (GMEM_BASE_VERSION), not the pinned $VERSION: no sha256 pin for it"
	fi
	tar -xJf "$scratch/deb/$TARBALL" -C "$scratch"
	local src=$scratch/$(basename "$TARBALL" .tar.xz)

	say "importing the base into git (then moved to $TREE)"
	# Debian's packaging block ("/*" then "!/debian/") would hide every new file of
	# the series from git; drop it so "git add" and "git status" behave as upstream.
	local n
	n=$(grep -n '^# Debian packaging: ignore everything at the top level' "$src/.gitignore" | cut -d: -f1 || true)
	[ -n "$n" ] || die "Debian's packaging block not found in .gitignore: is this Debian's linux-source?"
	# The block starts with an empty line and a lone "#" above its title.
	head -n $((n - 3)) "$src/.gitignore" >"$src/.gitignore.new"
	mv "$src/.gitignore.new" "$src/.gitignore"
	(
		cd "$src"
		git init -q -b base-import
		git config core.autocrlf false
		git config user.name "guest_memfd in-place conversion developer"
		git config user.email "dev@localhost"
		# Keep git notes (checkpatch explanations) on commits across rebase and amend.
		git config notes.rewriteRef refs/notes/commits
		git add -A -f .
		local tree commit
		tree=$(git write-tree)
		commit=$(GIT_AUTHOR_NAME="${BASE_AUTHOR% <*}" GIT_AUTHOR_EMAIL=$(sed 's/.*<\(.*\)>/\1/' <<<"$BASE_AUTHOR") \
			GIT_COMMITTER_NAME="${BASE_AUTHOR% <*}" GIT_COMMITTER_EMAIL=$(sed 's/.*<\(.*\)>/\1/' <<<"$BASE_AUTHOR") \
			GIT_AUTHOR_DATE=$BASE_DATE GIT_COMMITTER_DATE=$BASE_DATE \
			git commit-tree "$tree" -m "Debian $PACKAGE $version" \
				-m "Imported from $PACKAGE $version ($TARBALL), with Debian's top-level packaging block removed from .gitignore.")
		git tag base "$commit"
		git checkout -q -B series base
		git branch -q -D base-import 2>/dev/null || true
	)
	mv "$src" "$TREE"
	rm -rf "$scratch"
	trap - EXIT
	say "base commit $(git -C "$TREE" rev-parse --short base): Debian $PACKAGE $version"
}

main() {
	local want have
	want=$(wanted_version)
	if have=$(git -C "$TREE" log -1 --format=%s refs/tags/base 2>/dev/null); then
		[ "$have" = "Debian $PACKAGE $want" ] ||
			die "$TREE holds the base '$have', but $PACKAGE $want is asked${GMEM_BASE_VERSION:+ (GMEM_BASE_VERSION)}: export your work (make export), move $TREE away, and run again"
		return 0
	fi
	[ ! -e "$TREE" ] || die "$TREE exists but has no 'base' tag: it is not an import of the base; move it away and run again"
	mkdir -p "$APTDIR" "$BUILD"

	DEB=$(ls "$APTDIR"/"${PACKAGE}"_"${want//:/%3a}"_all.deb 2>/dev/null || true)
	DEB_VERSION=$want
	[ -n "$DEB" ] || fetch_deb
	import_base "$DEB" "$DEB_VERSION"
}
# Sourced by the test bed's own tests, which call the functions above.
[ "${BASH_SOURCE[0]}" != "$0" ] || main "$@"
