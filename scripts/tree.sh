#!/usr/bin/env bash
# make tree: the developer work tree $TREE (build/linux) with the series applied as
# commits on branch "series". Refuses to throw away uncommitted edits; the previous
# branch head is kept as refs/backup/series.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"
"$ROOT/scripts/base.sh"
if [ -n "$(git -C "$TREE" status --porcelain --untracked-files=no)" ]; then
	git -C "$TREE" status --short --untracked-files=no | head -n 20 >&2
	die "$TREE has uncommitted edits (above): commit them and run 'make export', or discard them, then run 'make tree' again"
fi
git -C "$TREE" update-ref refs/backup/series HEAD
git -C "$TREE" am --abort >/dev/null 2>&1 || true
git -C "$TREE" checkout -q -B series base
while read -r p; do
	[ -f "$(patch_path "$p")" ] || die "patches/series lists $p, but patches/$p does not exist"
	git -C "$TREE" am -q "$(patch_path "$p")" ||
		{ git -C "$TREE" am --abort; die "patch $p does not apply to the base (git am output above)"; }
	# git am drops what is below "---": keep the notes there (checkpatch explanations,
	# "Fixes: not given" and the like) as the commit's git note.
	note=$(awk '/^Notes:$/ { on = 1; next } on && (/^ [^ ]/ || /^diff --git/) { exit }
		on { sub(/^    /, ""); print }' "$(patch_path "$p")" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}')
	[ -z "$note" ] || git -C "$TREE" notes add -f -m "$note" HEAD
done < <(series_patches)
record_sync
say "$TREE: branch series = base + $(git -C "$TREE" rev-list --count base..series) patches (previous head saved as refs/backup/series)"
