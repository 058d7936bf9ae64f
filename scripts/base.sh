#!/usr/bin/env bash
# Fetch Debian's linux-source-7.3 with a project-local apt configuration, verify it,
# and import it into $TREE as the commit tagged "base". Does nothing if that exists.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
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

fetch_deb() {
	local suite versions version=""
	for suite in $SUITES; do
		versions=$(suite_version "$suite")
		if grep -qxF "$VERSION" <<<"$versions"; then
			version=$VERSION
		elif [ -n "$versions" ]; then
			version=$(sort -V <<<"$versions" | tail -n 1)
			warn "$PACKAGE $VERSION is not in $suite; using $version instead (the sha256 pin in BASE is for $VERSION only)"
		fi
		[ -n "$version" ] && break
	done
	[ -n "$version" ] || die "$PACKAGE is in neither of: $SUITES. Known versions: $VERSION (pinned in BASE). Put a copy of the .deb in $APTDIR/ or update BASE."
	say "downloading $PACKAGE $version from $suite (apt verifies the archive signature)"
	( cd "$APTDIR" && apt_local apt-get download "$PACKAGE=$version" ) >"$APTDIR/download.log" 2>&1 ||
		{ grep -E '^(E|W):' "$APTDIR/download.log" >&2; die "apt-get download $PACKAGE=$version failed (see above)"; }
	DEB=$(ls "$APTDIR"/"${PACKAGE}"_*"${version##*:}"_all.deb)
	DEB_VERSION=$version
}

main() {
	if git -C "$TREE" rev-parse -q --verify refs/tags/base >/dev/null 2>&1; then
		return 0
	fi
	[ ! -e "$TREE" ] || die "$TREE exists but has no 'base' tag; move it away and run again"
	mkdir -p "$APTDIR" "$BUILD"

	DEB=$(ls "$APTDIR"/"${PACKAGE}"_"${VERSION//:/%3a}"_all.deb 2>/dev/null || true)
	DEB_VERSION=$VERSION
	[ -n "$DEB" ] || fetch_deb

	local unpack=$BUILD/base-unpack
	rm -rf "$unpack"; mkdir -p "$unpack"
	say "unpacking $(basename "$DEB")"
	dpkg-deb -x "$DEB" "$unpack/deb"
	if [ "$DEB_VERSION" = "$VERSION" ]; then
		local sum
		sum=$(sha256sum "$unpack/deb/$TARBALL" | cut -d' ' -f1)
		[ "$sum" = "$TARBALL_SHA256" ] ||
			die "sha256 of $TARBALL is $sum, BASE pins $TARBALL_SHA256: the download is not the known $VERSION; delete $DEB and retry"
	fi
	tar -xJf "$unpack/deb/$TARBALL" -C "$unpack"
	mv "$unpack/$(basename "$TARBALL" .tar.xz)" "$TREE"
	rm -rf "$unpack"

	say "importing the base into git at $TREE"
	# Debian's packaging block ("/*" then "!/debian/") would hide every new file of
	# the series from git; drop it so "git add" and "git status" behave as upstream.
	local n
	n=$(grep -n '^# Debian packaging: ignore everything at the top level' "$TREE/.gitignore" | cut -d: -f1)
	[ -n "$n" ] || die "Debian's packaging block not found in .gitignore: is this Debian's linux-source?"
	# The block starts with an empty line and a lone "#" above its title.
	head -n $((n - 3)) "$TREE/.gitignore" >"$TREE/.gitignore.new"
	mv "$TREE/.gitignore.new" "$TREE/.gitignore"
	cd "$TREE"
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
		git commit-tree "$tree" -m "Debian linux-source-7.3 $DEB_VERSION" \
			-m "Imported from $PACKAGE $DEB_VERSION ($TARBALL), with Debian's top-level packaging block removed from .gitignore.")
	git tag base "$commit"
	git checkout -q -B series base
	git branch -q -D base-import 2>/dev/null || true
	say "base commit $(git rev-parse --short base): Debian $PACKAGE $DEB_VERSION"
}
main "$@"
