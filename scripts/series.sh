# Helpers for patches/series (quilt format). Source it.

# SRC=<git work tree> (e.g. build/linux): check and test that tree's commits base..HEAD
# instead of patches/; select_series exports them to $BUILD/src-patches first.
PATCHES_DIR=${PATCHES_DIR:-$ROOT/patches}
SERIES=$PATCHES_DIR/series

select_series() {
	[ -n "${SRC:-}" ] || return 0
	local src out=$BUILD/src-patches
	src=$(realpath "$SRC") || die "SRC=$SRC does not exist"
	git -C "$src" rev-parse -q --verify refs/tags/base >/dev/null ||
		die "SRC=$SRC is not a work tree of the base (no tag 'base'); use build/linux (make tree)"
	rm -rf "$out"; mkdir -p "$out"
	format_patches "$src" "$out" base..HEAD
	ls "$out" | { grep '\.patch$' || true; } >"$out/series.new"; mv "$out/series.new" "$out/series"
	PATCHES_DIR=$out SERIES=$out/series
	say "SRC=$SRC: checking its $(series_patches | wc -l) commits base..HEAD (uncommitted edits are not part of them)"
}

patch_path() { echo "$PATCHES_DIR/$1"; }

# format_patches GITDIR OUTDIR RANGE [OPTION...]: the commits of RANGE as "make export"
# writes them (notes below "---", no commit ids, no signature, base-commit trailer).
# One place, so that the identities below compare like with like.
format_patches() {
	local dir=$1 out=$2 range=$3
	shift 3
	git -C "$dir" format-patch -q --zero-commit --no-signature --notes --base=base "$@" -o "$out" "$range"
}

# The files a patch touches, one per line.
patch_files() {
	grep -E '^\+\+\+ b/|^--- a/' "$(patch_path "$1")" | sed -E 's#^(\+\+\+ b|--- a)/##' | sort -u
}

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
		[ -f "$(patch_path "$p")" ] || die "$SERIES lists $p, but $(patch_path "$p") does not exist"
		am_or_die "$dest" "$(patch_path "$p")" "patch $p does not apply (git am output above)"
	done < <(series_patches)
}

# am_or_die DEST PATCH MESSAGE: "git am" PATCH in DEST; on failure show git's output,
# leave DEST as it was and die with MESSAGE.
am_or_die() {
	if ! git -C "$1" am -q "$2" >"$BUILD/git-am.log" 2>&1; then
		cat "$BUILD/git-am.log" >&2
		git -C "$1" am --abort >/dev/null 2>&1 || true
		die "$3"
	fi
	rm -f "$BUILD/git-am.log"
}

# A patch's identity, for "is this work in patches/?": its text as "make export" writes
# it (changelog, notes below "---" and diff), without what depends on its place in the
# series ("[PATCH n/m]", the base-commit trailer).
patch_text_id() {
	sed -E -e 's/^Subject: \[PATCH[^]]*\] /Subject: /' -e '/^base-commit: /d' "$1" | sha256sum | cut -c1-40
}

# Identities of patches/, one per line, sorted.
patches_ids() {
	local f
	for f in "$PATCHES_DIR"/[0-9][0-9][0-9][0-9]-*.patch; do
		[ -f "$f" ] || continue
		case $f in */0000-cover-letter.patch) continue ;; esac
		patch_text_id "$f"
	done | sort
}

# Identities of the commits base..REV of $TREE (default: branch series), as
# "make export" would write them.
tree_ids() {
	local tmp f
	tmp=$(mktemp -d)
	format_patches "$TREE" "$tmp" "base..${1:-series}"
	for f in "$tmp"/*.patch; do
		[ -f "$f" ] && patch_text_id "$f"
	done | sort
	rm -rf "$tmp"
}

# Record that $TREE and patches/ agree (after make tree and make export).
SYNC_RECORD=gmem-synced-patches-v2	# v2: whole-text identities
record_sync() {
	patches_ids >"$(git -C "$TREE" rev-parse --absolute-git-dir)/$SYNC_RECORD"
}

# Commits of $TREE (HEAD and every branch), edits and stashes that patches/ does not
# hold; prints what they are, returns 1 if there are any.
unexported_work() {
	local bad=0 extra
	git -C "$TREE" rev-parse -q --verify refs/tags/base >/dev/null || return 0
	if [ -n "$(git -C "$TREE" status --porcelain)" ]; then
		echo "uncommitted edits or new files in $TREE:"
		git -C "$TREE" status --short | head -n 10 | sed 's/^/    /'
		bad=1
	fi
	for rev in HEAD $(git -C "$TREE" for-each-ref --format='%(refname:short)' refs/heads/); do
		git -C "$TREE" rev-parse -q --verify "$rev" >/dev/null || continue
		extra=$(comm -23 <(tree_ids "$rev") <(patches_ids))
		if [ -n "$extra" ]; then
			echo "$rev of $TREE has $(wc -l <<<"$extra") commit(s) not in patches/ as they are (changelog, notes or change)"
			bad=1
		fi
	done
	if [ -n "$(git -C "$TREE" stash list)" ]; then
		echo "$TREE has stashed changes (git stash list)"
		bad=1
	fi
	return $bad
}
