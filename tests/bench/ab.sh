#!/usr/bin/env bash
# ab.sh: two builds of clonefs compared on whole clones, alternating against one donor, so a change
# is judged on this noisy machine by runs taken side by side (docs/performance.md, items 15-16).
#   bash tests/bench/ab.sh BIN_A BIN_B [N]     (BIN_x: a bin/ directory; N timed runs each, default 4)
#   AB_SIZE=MB (default 500): the donor's sample tables; DONOR_OPTS: extra clonefsd options;
#   AB_MODE=mount: mount.clonefs (a kept cache) + clonefs materialize instead of clonefs clone
# Each build's clonefsd serves a cold copy of the donor's datadir (--snapshot-method=dir) over TLS on
# its own port, and that build's `clonefs clone - ... DATA DIRECTORY ... REQUIRE SSL` copies it; one
# untimed warm-up run each, then N timed runs each, A and B in turn. Prints one line per run with
# materialize's summary (the copy and the final syncfs).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,9p' "$0"; exit 2; }
A=$(cd "$1" && pwd) B=$(cd "$2" && pwd) N=${3:-4}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"
T=$(t_tmpdir)
cfs_donor_up "$T" "${AB_SIZE:-500}" 'pw'
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
cp -a "$T/donor/data" "$T/cold"
sync
tls_make "$T/tls"
read -r cs coll fs page < <(db_sql "$DONOR_SOCK" \
	"SELECT @@character_set_server, @@collation_server, @@character_set_filesystem, @@innodb_page_size")
declare -A port
for v in A B; do
	port[$v]=$(t_free_port)
	"${!v}/clonefsd" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem" --listen="127.0.0.1:${port[$v]}" \
		--socket="$DONOR_SOCK" --datadir="$T/cold" --snapshot-method=dir --state-dir="$T/state$v" ${DONOR_OPTS:-} \
		--foreground >"$T/clonefsd$v.log" 2>&1 &
	t_on_exit "kill $! 2>/dev/null || true"
	printf '[mysqld]\ncharacter-set-server=%s\ncollation-server=%s\ncharacter-set-filesystem=%s\ninnodb-page-size=%s\n[clonefs]\nvalid_donor_list=127.0.0.1:%s\n' \
		"$cs" "$coll" "$fs" "$page" "${port[$v]}" >"$T/recipient$v.cnf"
done
for v in A B; do t_wait_for "ss -ltn | grep -q ':${port[$v]} '" 10 || t_fail "clonefsd $v did not listen"; done
echo "donor $(du -sh "$T/cold" | cut -f1); A=$A B=$B"
for i in $(seq 0 "$N"); do
	for v in A B; do
		t0=$(now)
		if [ "${AB_MODE:-clone}" = mount ]; then
			mkdir -p "$T/mnt"
			CLONEFS_PASSWORD=pw "${!v}/mount.clonefs" "cloner@127.0.0.1:${port[$v]}" "$T/mnt" \
				-o "ssl_mode=required,ssl_ca=$T/tls/ca.pem,cache_dir=$T/cache" || t_fail "mount $v failed"
			"${!v}/clonefs" materialize "$T/mnt" "$T/clone" --no-progress >"$T/clone.out" ||
				t_fail "materialize $v failed: $(cat "$T/clone.out")"
			fusermount3 -u "$T/mnt"
		else
			echo "CLONE INSTANCE FROM 'cloner'@'127.0.0.1':${port[$v]} IDENTIFIED BY 'pw' DATA DIRECTORY '$T/clone' REQUIRE SSL" |
				CLONEFS_LOCK_DIR="$T" "${!v}/clonefs" clone - --no-progress --recipient-defaults-file="$T/recipient$v.cnf" \
				-o "ssl_ca=$T/tls/ca.pem" >"$T/clone.out" || t_fail "clone $v failed: $(cat "$T/clone.out")"
		fi
		s=$(since "$t0")
		[ "$i" = 0 ] || echo "$v $s s | $(sed -n 's/^time: reading through the mount/copy/p' "$T/clone.out")"
		rm -rf "$T/clone" "$T/cache"
		sync
	done
done
