# btrfs.sh: a btrfs filesystem on a loop-mounted image for tests of the btrfs snapshot method.
# Needs common.sh sourced first (and e2e.sh for the rest).

# btrfs_loop_mount DIR [SIZE]: DIR/btrfs.img (default 1G) made btrfs and mounted at DIR/btrfs (mode
# 755); skips the test without btrfs-progs, a loop device or the btrfs module. Sets BTRFS_MNT.
# Unmounted, detached and DIR removed at exit (the image must not stay behind).
btrfs_loop_mount() {
	local dir=$1 size=${2:-1G} loop
	for tool in mkfs.btrfs btrfs losetup; do
		command -v "$tool" >/dev/null || t_skip "$tool is not installed (btrfs-progs, util-linux)"
	done
	# t_tmpdir registers its removal inside $(...), a subshell whose exit runs no cleanup: remove
	# the directory here (last, after the umount).
	[ "${KEEP_TMP:-0}" = 1 ] || t_on_exit "rm -rf '$dir'"
	truncate -s "$size" "$dir/btrfs.img"
	mkfs.btrfs -q "$dir/btrfs.img" >"$dir/mkfs.log" 2>&1 || { cat "$dir/mkfs.log"; t_fail "mkfs.btrfs failed"; }
	loop=$(losetup --find --show "$dir/btrfs.img" 2>"$dir/losetup.err") || t_skip "no loop device: $(cat "$dir/losetup.err")"
	t_on_exit "losetup -d '$loop'"
	BTRFS_MNT="$dir/btrfs"
	mkdir -p "$BTRFS_MNT"
	mount -t btrfs "$loop" "$BTRFS_MNT" 2>"$dir/mount.err" || t_skip "cannot mount btrfs: $(cat "$dir/mount.err")"
	t_on_exit "umount '$BTRFS_MNT' || umount -l '$BTRFS_MNT'"
	chmod 755 "$BTRFS_MNT"
}

# btrfs_subvol PATH: a subvolume at PATH (mode 755).
btrfs_subvol() {
	btrfs -q subvolume create "$1" >/dev/null
	chmod 755 "$1"
}
