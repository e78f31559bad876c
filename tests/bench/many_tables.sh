#!/usr/bin/env bash
# many_tables.sh: part of `make bench` (run.sh calls it; it also runs alone): a donor of many small
# InnoDB tables (BENCH_TABLES, default 2000), its datadir in a btrfs subvolume; cp -a + sync of the
# datadir against `clonefs clone ... DATA DIRECTORY ... REQUIRE SSL` with each snapshot method, from
# a cold page cache. Prints one line per method with its ratio to cp -a, and writes the JSON keys
# many_tables_count, many_tables_cp_s and many_tables_clone_s {method: s} to the file given as $1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for a in "$@"; do case $a in --bin=*) CLONEFS_BIN=$(cd "${a#*=}" && pwd) ;; esac; done
. "$here/../lib/e2e.sh"
. "$here/../lib/btrfs.sh"
out=${1:-many-tables.json}
case $out in --bin=*) out=many-tables.json ;; esac
tables=${BENCH_TABLES:-2000}
T=$(t_tmpdir)
. "$here/bench_lib.sh"

btrfs_loop_mount "$T" 4G
btrfs_subvol "$BTRFS_MNT/sub"
D="$BTRFS_MNT/sub/donor"
say "many tables: a donor of $tables small InnoDB tables, datadir $D/data"
# Made quickly (no binary log, no flush per DDL): how it was made is not what is measured.
db_start "$D" --innodb-buffer-pool-size=256M --skip-log-bin --innodb-flush-log-at-trx-commit=0
SOCK="$D/mysql.sock"
db_sql "$SOCK" "CREATE DATABASE many"
for ((i = 1; i <= tables; i++)); do
	echo "CREATE TABLE many.t$i (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB; INSERT INTO many.t$i VALUES ($i, MD5($i)), ($i + 1, MD5($i + 1));"
done | mariadb --no-defaults -S "$SOCK" -u root
# As a long-running donor: its pages written out and the redo log checkpointed (else mariabackup's
# --prepare would replay the whole creation).
db_sql "$SOCK" "SET GLOBAL innodb_flush_log_at_trx_commit = 1; SET GLOBAL innodb_max_dirty_pages_pct = 0"
dirty() { db_sql "$SOCK" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_DIRTY'"; }
t_wait_for '[ "$(dirty)" = 0 ]' 120 || say "$(dirty) dirty pages left"
db_sql "$SOCK" "SET GLOBAL innodb_max_dirty_pages_pct = 90"
cfs_make_clone_user "$SOCK" cloner pw
tls_make "$T/tls"
db_sql "$SOCK" "FLUSH TABLES"
files=$(find "$D/data" -type f | wc -l)

cold
t0=$(now); cp -a "$D/data" "$T/cp"; sync; cp_s=$(since "$t0"); rm -rf "$T/cp"
say "cp -a + sync: $cp_s s ($files files)"

read -r cs coll fs page < <(db_sql "$SOCK" \
	"SELECT @@character_set_server, @@collation_server, @@character_set_filesystem, @@innodb_page_size")
declare -A clone_s
for method in btrfs reflink mariabackup; do
	port=$(t_free_port)
	cfs_start_donor "$T/d-$method" "$port" "$SOCK" "$D/data" --snapshot-method="$method" \
		--state-dir="$BTRFS_MNT/state-$method" --ssl-cert="$T/tls/server.pem" --ssl-key="$T/tls/server-key.pem"
	cnf="$T/recipient-$method.cnf"
	printf '[mysqld]\ncharacter-set-server=%s\ncollation-server=%s\ncharacter-set-filesystem=%s\ninnodb-page-size=%s\n[clonefs]\nvalid_donor_list=127.0.0.1:%s\n' \
		"$cs" "$coll" "$fs" "$page" "$port" >"$cnf"
	cold
	t0=$(now)
	echo "CLONE INSTANCE FROM 'cloner'@'127.0.0.1':$port IDENTIFIED BY 'pw' DATA DIRECTORY '$T/c-$method' REQUIRE SSL" |
		CLONEFS_LOCK_DIR="$T" "$CLONEFS_BIN/clonefs" clone - --no-progress --recipient-defaults-file="$cnf" \
		-o "ssl_ca=$T/tls/ca.pem" >"$T/clone-$method.out" 2>"$T/clone-$method.err" ||
		{ cat "$T/clone-$method.err" >&2; t_fail "clonefs clone ($method) failed"; }
	clone_s[$method]=$(since "$t0")
	n=$(find "$T/c-$method/many" -name '*.ibd' | wc -l)
	[ "$n" = "$tables" ] || t_fail "the $method clone has $n tablespaces in many/, the donor $tables"
	say "clonefs clone ($method snapshot): ${clone_s[$method]} s"
	rm -rf "$T/c-$method"
	kill "$CFS_DONOR_PID"; wait "$CFS_DONOR_PID" 2>/dev/null || true
done
python3 - "$out" "$tables" "$files" "$cp_s" "${clone_s[btrfs]}" "${clone_s[reflink]}" "${clone_s[mariabackup]}" <<'PY'
import json, sys
out, tables, files, cp, b, r, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *map(float, sys.argv[4:8])
json.dump({"many_tables_count": tables, "many_tables_files": files, "many_tables_cp_s": cp,
           "many_tables_clone_s": {"btrfs": b, "reflink": r, "mariabackup": m}}, open(out, "w"), indent=2)
print(f"\nmany small tables: {tables} tables, {files} files")
print(f"{'cp -a + sync':<44}  {cp:>7.2f} s")
for k, v in (("btrfs", b), ("reflink", r), ("mariabackup", m)):
    print(f"{'clonefs clone ... (' + k + ' snapshot)':<44}  {v:>7.2f} s  {v / cp:.2f}x cp -a" + (" (goal < 2)" if k != "mariabackup" else ""))
PY
