#!/usr/bin/env bash
# make clean: remove build/ and results/ (downloads in ~/.cache stay). The developer
# tree build/linux is kept when it holds work that patches/ does not (commits not
# exported, uncommitted edits, new files); FORCE=1 removes it anyway.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"
rm -rf "$RESULTS"
[ -d "$BUILD" ] || exit 0
if [ -d "$TREE" ] && [ -z "${FORCE:-}" ] && ! why=$(unexported_work); then
	echo "$why" >&2
	find "$BUILD" -mindepth 1 -maxdepth 1 ! -path "$TREE" -exec rm -rf {} +
	git -C "$TREE" worktree prune
	warn "kept $TREE: it holds work that is not in patches/ (above). Run 'make export' and commit patches/, then 'make clean' again; or 'make clean FORCE=1' to delete it anyway"
	exit 0
fi
rm -rf "$BUILD"
say "removed build/ and results/"
