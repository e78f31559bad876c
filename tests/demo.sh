#!/usr/bin/env bash
# demo.sh: `make demo`: the main job end to end on a throwaway local donor: a MariaDB server with
# sample data, clonefsd over TLS, a lazy mount, a materialized clone, mysqld_safe on it, and
# CHECKSUM TABLE of donor and clone side by side. Cleans up after itself, also on Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for a in "$@"; do case $a in --bin=*) CLONEFS_BIN=$(cd "${a#*=}" && pwd) ;; esac; done
. "$here/lib/e2e.sh"
. "$here/lib/demo.sh"

T=$(t_tmpdir)
demo_donor_up "$T"

step "Writing to the donor while the snapshot is taken"
db_write_load_start "$DONOR_SOCK"
step "mount.clonefs cloner@127.0.0.1:$PORT $T/mnt -o ssl_mode=required,ssl_ca=ca.pem"
mkdir -p "$T/mnt"
CLONEFS_PASSWORD='demo-password' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"
db_write_load_stop
demo_finish "$T"
