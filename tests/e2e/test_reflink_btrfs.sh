#!/usr/bin/env bash
# test_reflink_btrfs.sh: test_reflink_snapshot.sh's rounds on btrfs, the datadir a plain directory
# of the top-level subvolume and --state-dir on another filesystem (so the btrfs method cannot be
# used and auto takes reflink): snapshots under load, each recovered, consistent and equal to the
# donor after binlog replay. REFLINK_ROUNDS (default 2).
here=$(cd "$(dirname "$0")" && pwd)
REFLINK_FS=btrfs REFLINK_ROUNDS=${REFLINK_ROUNDS:-2} REFLINK_EXTRAS=0 exec bash "$here/test_reflink_snapshot.sh"
