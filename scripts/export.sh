#!/usr/bin/env bash
# make export: regenerate patches/ from the commits base..series of $TREE.
# The comment block above each patch name in patches/series is kept (matched by the
# patch's subject part of the name), as are the header comments and the cover letter.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"
git -C "$TREE" rev-parse -q --verify refs/tags/base >/dev/null || die "no work tree at $TREE: run 'make tree' first"
[ "$(git -C "$TREE" rev-parse --abbrev-ref HEAD)" = series ] || die "$TREE is not on branch 'series': check out series first"
fixups=$(git -C "$TREE" log --format=%s base..series | grep -E '^(fixup|squash|amend)! ' || true)
[ -z "$fixups" ] ||
	die "base..series has fixup commits ($(wc -l <<<"$fixups"), e.g. '$(head -n 1 <<<"$fixups")'): fold them in first (git -C $TREE rebase -i --autosquash base)"
[ -z "$(git -C "$TREE" status --porcelain --untracked-files=no)" ] ||
	warn "$TREE has uncommitted edits; they are not exported (commit them, then run 'make export' again)"

# Refuse to overwrite patches/ with a tree that lags it: patches/ must be what the tree
# was made from ("make tree") or last exported, or already be in the tree's commits.
record=$(git -C "$TREE" rev-parse --absolute-git-dir)/$SYNC_RECORD
if [ -z "${FORCE:-}" ]; then
	if [ -f "$record" ]; then
		stale=$(comm -13 "$record" <(patches_ids) | comm -23 - <(tree_ids))
	else
		stale=$(comm -23 <(patches_ids) <(tree_ids))
	fi
	[ -z "$stale" ] || die "patches/ has $(wc -l <<<"$stale") patch(es) that $TREE has not seen (patches/ changed after 'make tree', e.g. by git pull): exporting would overwrite them with older work. Run 'make tree' (your commits are kept as refs/backup/series) and redo your change there, or 'make export FORCE=1' to overwrite patches/ anyway"
fi

old=$(mktemp -d)
trap 'rm -rf "$old"' EXIT
[ -f "$SERIES" ] && cp "$SERIES" "$old/series"
# The cover letter is written by hand; keep it.
[ -f "$PATCHES_DIR/0000-cover-letter.patch" ] && cp "$PATCHES_DIR/0000-cover-letter.patch" "$old/"
rm -f "$PATCHES_DIR"/[0-9][0-9][0-9][0-9]-*.patch

# Notes (git notes) go below each patch's "---": where a kept checkpatch warning
# is explained ("checkpatch: TYPE: why").
# The version in the cover letter's subject ("[PATCH v4 00/15]") goes on every patch.
version=""
[ ! -f "$old/0000-cover-letter.patch" ] ||
	version=$(sed -n 's/^Subject: \[PATCH \(v[0-9][0-9]*\) .*/\1/p' "$old/0000-cover-letter.patch" | head -n 1)
format_patches "$TREE" "$PATCHES_DIR" base..series --subject-prefix="PATCH${version:+ $version}"
[ -f "$old/0000-cover-letter.patch" ] && cp "$old/0000-cover-letter.patch" "$PATCHES_DIR/"

# Rebuild patches/series: header (comments up to the first blank line), then each
# patch with the note that stood above the same subject before.
{
	if [ -f "$old/series" ]; then
		awk 'NF == 0 { exit } /^#/ { print }' "$old/series"
	else
		echo "# The series, in order (quilt format). Each patch's note says what it does."
	fi
	echo
	for f in $(cd "$PATCHES_DIR" && ls [0-9][0-9][0-9][0-9]-*.patch 2>/dev/null | grep -v '^0000-cover-letter'); do
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
record_sync
say "exported $(series_patches | wc -l) patches to patches/; review with: git diff -- patches/"
missing=$(awk '/^[0-9][0-9][0-9][0-9]-/ && prev !~ /^#/ { print } { prev = $0 }' "$SERIES")
[ -z "$missing" ] || warn "no note above these in patches/series; add one saying what the patch does: $missing"
exit 0
