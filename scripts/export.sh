#!/usr/bin/env bash
# make export: regenerate patches/ from the commits base..series of $TREE.
# The comment block above each patch name in patches/series is kept (matched by the
# patch's subject part of the name), as are the header comments and the cover letter.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"
git -C "$TREE" rev-parse -q --verify refs/tags/base >/dev/null || die "no work tree at $TREE: run 'make tree' first"
[ "$(git -C "$TREE" rev-parse --abbrev-ref HEAD)" = series ] || die "$TREE is not on branch 'series': check out series first"
[ -z "$(git -C "$TREE" status --porcelain --untracked-files=no)" ] ||
	warn "$TREE has uncommitted edits; they are not exported (commit them, then run 'make export' again)"

old=$(mktemp -d)
trap 'rm -rf "$old"' EXIT
[ -f "$SERIES" ] && cp "$SERIES" "$old/series"
# The cover letter is written by hand; keep it.
[ -f "$ROOT/patches/0000-cover-letter.patch" ] && cp "$ROOT/patches/0000-cover-letter.patch" "$old/"
rm -f "$ROOT"/patches/[0-9][0-9][0-9][0-9]-*.patch

# Notes (git notes) go below each patch's "---": where a kept checkpatch warning
# is explained ("checkpatch: TYPE: why").
git -C "$TREE" format-patch -q --zero-commit --no-signature --notes --base=base \
	-o "$ROOT/patches" base..series
[ -f "$old/0000-cover-letter.patch" ] && cp "$old/0000-cover-letter.patch" "$ROOT/patches/"

# Rebuild patches/series: header (comments up to the first blank line), then each
# patch with the note that stood above the same subject before.
{
	if [ -f "$old/series" ]; then
		awk 'NF == 0 { exit } /^#/ { print }' "$old/series"
	else
		echo "# The series, in order (quilt format). Each patch's note says what it does."
	fi
	echo
	for f in $(cd "$ROOT/patches" && ls [0-9][0-9][0-9][0-9]-*.patch 2>/dev/null | grep -v '^0000-cover-letter'); do
		subj=${f#[0-9][0-9][0-9][0-9]-}
		if [ -f "$old/series" ]; then
			awk -v s="$subj" '
				/^#/ { note = note $0 "\n"; next }
				NF == 0 { note = ""; next }
				{ n = $0; sub(/^[0-9][0-9][0-9][0-9]-/, "", n); if (n == s) { printf "%s", note; exit } note = "" }
			' "$old/series"
		fi
		echo "$f"
		echo
	done
} >"$SERIES.new"
mv "$SERIES.new" "$SERIES"
say "exported $(series_patches | wc -l) patches to patches/; review with: git diff -- patches/"
missing=$(awk '/^[0-9][0-9][0-9][0-9]-/ && prev !~ /^#/ { print } { prev = $0 }' "$SERIES")
[ -z "$missing" ] || warn "no note above these in patches/series; add one saying what the patch does: $missing"
exit 0
