# Helpers for patches/series (quilt format). Source it.

SERIES=$ROOT/patches/series

# Patch file names in order, comments and blank lines dropped.
series_patches() {
	[ -f "$SERIES" ] || return 0
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$SERIES" | grep -v '^$' || true
}

# apply_series DEST: make DEST a work tree of $TREE at the base commit with every patch
# of the series applied by plain "git am". Files the patches do not change keep their
# mtimes, so out-of-tree builds stay incremental.
apply_series() {
	local dest=$1 p
	"$ROOT/scripts/base.sh"
	if [ ! -e "$dest/.git" ]; then
		git -C "$TREE" worktree prune
		git -C "$TREE" worktree add -q --detach "$dest" base
	fi
	git -C "$dest" am --abort >/dev/null 2>&1 || true
	git -C "$dest" reset -q --hard
	git -C "$dest" checkout -q --detach base
	while read -r p; do
		[ -f "$ROOT/patches/$p" ] || die "patches/series lists $p, but patches/$p does not exist"
		if ! git -C "$dest" am -q "$ROOT/patches/$p" >"$BUILD/git-am.log" 2>&1; then
			cat "$BUILD/git-am.log" >&2
			git -C "$dest" am --abort >/dev/null 2>&1 || true
			die "patch $p does not apply (git am output above)"
		fi
	done < <(series_patches)
	rm -f "$BUILD/git-am.log"
}
