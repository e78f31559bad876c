# btrfs.sh: the bench's btrfs donor: sourced by run.sh and thin.sh (needs $T, $size_mb, e2e.sh).

# btrfs_up [MB]: a btrfs image of MB (default 4 x $size_mb + 2048) (sparse, room for the datadir, its binary logs and CoW snapshots)
# loop-mounted at $T/btrfs with the subvolume $T/btrfs/sub; sets DONOR_DIR under it. Returns 1 with
# BTRFS_WHY set when btrfs cannot be used here.
btrfs_up() {
	local tool img_mb=${1:-$((size_mb * 4 + 2048))}
	for tool in mkfs.btrfs btrfs losetup; do
		command -v "$tool" >/dev/null || { BTRFS_WHY="$tool is not installed"; return 1; }
	done
	truncate -s "${img_mb}M" "$T/btrfs.img"
	mkfs.btrfs -q "$T/btrfs.img" >"$T/mkfs.log" 2>&1 || { BTRFS_WHY="mkfs.btrfs: $(tail -1 "$T/mkfs.log")"; return 1; }
	# Direct I/O on the image: without it the loop device caches every block a second time (the image
	# file's pages under btrfs's own) and copies each read in a kernel worker, a cost a btrfs on a real
	# disk does not have; every peer reads through this same device.
	LOOP=$(losetup --direct-io=on --find --show "$T/btrfs.img" 2>"$T/losetup.err") ||
		{ BTRFS_WHY="no loop device: $(cat "$T/losetup.err")"; return 1; }
	t_on_exit "losetup -d '$LOOP'"
	mkdir -p "$T/btrfs"
	mount -t btrfs "$LOOP" "$T/btrfs" 2>"$T/mount.err" || { BTRFS_WHY="cannot mount btrfs: $(cat "$T/mount.err")"; return 1; }
	t_on_exit "umount '$T/btrfs' || umount -l '$T/btrfs'"
	chmod 755 "$T/btrfs"
	btrfs -q subvolume create "$T/btrfs/sub" >/dev/null || { BTRFS_WHY="cannot create a subvolume"; return 1; }
	chmod 755 "$T/btrfs/sub"
	DONOR_DIR="$T/btrfs/sub/donor"
}
