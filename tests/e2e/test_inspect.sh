#!/usr/bin/env bash
# test_inspect.sh: `clonefs inspect` agrees with innochecksum on tablespaces a real MariaDB wrote
# (plain, ROW_FORMAT=COMPRESSED, PAGE_COMPRESSED=1, encrypted, encrypted + page_compressed; with
# innodb_checksum_algorithm full_crc32 and crc32): page count, page types, index ids, every checksum
# verdict, and exactly the one page a flipped byte broke; --json has the documented keys; through a
# prefetch=off mount, --page=N fetches only the chunks of page 0 and page N.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/e2e.sh"

command -v innochecksum >/dev/null || t_skip "innochecksum is not installed (mariadb-server)"
T=$(t_tmpdir)
ROWS=8000          # a few hundred written pages per table (files of ~9 MiB, mostly preallocated)
CORRUPT_PAGE=5     # an INDEX (or page_compressed) page of every table once ROWS rows are in
CORRUPT_AT=48      # FIL_PAGE_DATA + 10: inside the INDEX header, inside a compressed payload
IC_ALLOW=1000000   # innochecksum -a: list every bad page instead of stopping at the first

# ---- Tablespaces of every kind, written by a real server with the file_key_management plugin ----
mkdir -p "$T/db"
printf '1;%s\n2;%s\n' "$(openssl rand -hex 32)" "$(openssl rand -hex 32)" >"$T/db/keys.txt"
chmod 644 "$T/db/keys.txt"
db_start "$T/db" --plugin-load-add=file_key_management --file-key-management-filename="$T/db/keys.txt"
SOCK="$T/db/mysql.sock"
[ "$(db_sql "$SOCK" "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME='file_key_management'")" = ACTIVE ] ||
	t_fail "the file_key_management plugin is not active"

cols="id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(200), KEY(a)"
sql="CREATE DATABASE t; USE t;"
for algo in full_crc32 crc32; do
	# innodb_checksum_algorithm decides the format of the tablespaces created after it is set
	sql+="SET GLOBAL innodb_checksum_algorithm=$algo;
	CREATE TABLE plain_$algo ($cols) ENGINE=InnoDB;
	CREATE TABLE zip_$algo ($cols) ENGINE=InnoDB ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8;
	CREATE TABLE pcomp_$algo ($cols) ENGINE=InnoDB PAGE_COMPRESSED=1;
	CREATE TABLE enc_$algo ($cols) ENGINE=InnoDB ENCRYPTED=YES ENCRYPTION_KEY_ID=1;
	CREATE TABLE encpc_$algo ($cols) ENGINE=InnoDB ENCRYPTED=YES ENCRYPTION_KEY_ID=2 PAGE_COMPRESSED=1;"
	for kind in plain zip pcomp enc encpc; do
		sql+="INSERT INTO ${kind}_$algo SELECT seq, seq % 1000, REPEAT(MD5(seq), 4) FROM seq_1_to_$ROWS;"
	done
done
db_sql "$SOCK" "$sql"
db_stop "$T/db" # a clean shutdown: every page is on disk
FILES=$(ls "$T"/db/data/t/*.ibd)
[ "$(echo "$FILES" | wc -l)" = 10 ] || t_fail "expected 10 tablespaces, found: $FILES"

# compare FILE INSPECT_JSON IC_SUMMARY IC_FAILS IC_COUNT IC_RC: inspect's report against
# innochecksum's -S summary, -a fail list, -c count and exit status. Prints what agreed.
compare() {
	python3 - "$@" <<'PY'
import json, re, sys
path, js, summary, fails, count, ic_rc = sys.argv[1:]
name = path.rsplit('/', 1)[-1]
def fail(msg):
    print(f"FAIL: {name}: {msg}")
    sys.exit(1)
d = json.load(open(js))
# --json keys the issue names, with their types
for k, t in (("space_id", int), ("page_size", int), ("pages", int), ("page_types", dict),
             ("checksum_algorithm", str), ("bad_checksum_pages", list), ("lsn_min", int), ("lsn_max", int)):
    if not isinstance(d.get(k), t):
        fail(f"--json key {k} is {d.get(k)!r}, expected a {t.__name__}")
if not all(isinstance(v, int) for v in d["page_types"].values()):
    fail(f"page_types values are not counts: {d['page_types']}")
if not d["lsn_min"] <= d["lsn_max"]:
    fail(f"lsn_min {d['lsn_min']} > lsn_max {d['lsn_max']}")
# page count: innochecksum -c
m = re.search(r"Number of pages:\s*(\d+)", open(count).read())
if not m or int(m.group(1)) != d["pages"]:
    fail(f"innochecksum -c says {m and m.group(1)}, inspect {d['pages']} pages")
# page types: innochecksum -S labels -> inspect classes (innochecksum 10.11 counts RTREE and INSTANT
# pages as "Other type of page" and counts ZBLOB2 pages without printing them)
label_classes = {
    "Index page": ["INDEX"], "Undo log page": ["UNDO_LOG"], "Inode page": ["INODE"],
    "Insert buffer free list page": ["IBUF_FREE_LIST"], "Freshly allocated page": ["ALLOCATED"],
    "Insert buffer bitmap": ["IBUF_BITMAP"], "System page": ["SYS"], "Transaction system page": ["TRX_SYS"],
    "File Space Header": ["FSP_HDR"], "Extent descriptor page": ["XDES"], "BLOB page": ["BLOB"],
    "Compressed BLOB page": ["ZBLOB"], "Page compressed page": ["PAGE_COMPRESSED"],
    "Page compressed encrypted page": ["PAGE_COMPRESSED_ENCRYPTED"],
}
ic = {}
for line in open(summary):
    m = re.match(r"\s*(\d+)\t(.+?)\s*$", line)
    if m and m.group(2) in label_classes or (m and m.group(2) == "Other type of page"):
        ic[m.group(2)] = int(m.group(1))
if len(ic) != len(label_classes) + 1:
    fail(f"cannot read innochecksum -S: {ic}")
pt = dict(d["page_types"])
pt.pop("ZBLOB2", None)
full_crc32 = d["flags_decoded"]["full_crc32"]
if full_crc32:
    # a full_crc32 page_compressed page has FIL_PAGE_TYPE 0x8000 | size: innochecksum 10.11 counts it
    # as "Other type of page", inspect by what the marker bit says
    hidden = pt.pop("PAGE_COMPRESSED", 0) + pt.pop("PAGE_COMPRESSED_ENCRYPTED", 0)
    pt["FCRC32_PAGE_COMPRESSED"] = hidden
known = {c for cs in label_classes.values() for c in cs}
for label, classes in label_classes.items():
    mine = sum(pt.get(c, 0) for c in classes)
    if mine != ic[label]:
        fail(f"{label}: innochecksum -S {ic[label]}, inspect {mine} ({d['page_types']})")
other = sum(v for c, v in pt.items() if c not in known)
if other != ic["Other type of page"]:
    fail(f"Other type of page: innochecksum -S {ic['Other type of page']}, inspect {other}")
# index ids, pages and leaf pages (innochecksum lists them only for unencrypted spaces)
text = open(summary).read()
block = text.split("index_id\t#pages\t\t#leaf_pages")[1].split("\n\n")[0] if "#leaf_pages" in text else ""
# innochecksum prints the ids with %lld: the change buffer's 0xFFFFFFFF00000000 comes out negative
ic_idx = sorted((int(a) % 2**64, int(b), int(c)) for a, b, c in re.findall(r"^(-?\d+)\t\t(\d+)\t\t(\d+)\t", block, re.M))
mine_idx = sorted((i["index_id"], i["pages"], i["leaf_pages"]) for i in d["indexes"])
if ic_idx != mine_idx:
    fail(f"indexes: innochecksum -S {ic_idx}, inspect {mine_idx}")
# checksum verdicts: innochecksum -a lists every page it finds invalid; its exit status says any
ic_bad = sorted(int(p) for p in re.findall(r"Fail: page::(\d+) invalid", open(fails).read()))
if ic_bad != sorted(d["bad_checksum_pages"]) or d["bad_checksum_count"] != len(ic_bad):
    fail(f"bad pages: innochecksum {ic_bad}, inspect {d['bad_checksum_pages']} (count {d['bad_checksum_count']})")
if (ic_rc != "0") != bool(ic_bad):
    fail(f"innochecksum exit status {ic_rc} with bad pages {ic_bad}")
expected_algo = "full_crc32" if full_crc32 else "crc32"
if d["checksum_algorithm"] != expected_algo:
    fail(f"checksum_algorithm {d['checksum_algorithm']}, expected {expected_algo}")
enc = name.startswith("enc")
if d["encryption"]["encrypted"] != enc:
    fail(f"encryption {d['encryption']}, expected encrypted={enc}")
print(f"{name}: {d['pages']} pages, {d['checksum_algorithm']}, flags {d['flags_hex']}, "
      f"types {d['page_types']}, {len(mine_idx)} indexes, bad {d['bad_checksum_pages']}")
PY
}

# check FILE: run both tools on FILE and compare; sets BAD to inspect's bad page list.
check() {
	local f=$1 out=$T/out/$(basename "$1") ic_rc=0
	mkdir -p "$T/out"
	"$CLONEFS_BIN/clonefs" inspect "$f" --json >"$out.json" || t_fail "clonefs inspect $f exited $?"
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out.json" || t_fail "inspect --json of $f is not JSON"
	"$CLONEFS_BIN/clonefs" inspect "$f" >"$out.txt" || t_fail "clonefs inspect $f (text) exited $?"
	innochecksum -S -a "$IC_ALLOW" "$f" >"$out.S" 2>/dev/null || true # -a: the whole file, bad pages or not
	innochecksum -c "$f" >"$out.c" 2>&1 || true
	innochecksum -a "$IC_ALLOW" "$f" >/dev/null 2>"$out.fails" || true
	innochecksum "$f" >/dev/null 2>&1 || ic_rc=$?
	compare "$f" "$out.json" "$out.S" "$out.fails" "$out.c" "$ic_rc" || t_fail "inspect and innochecksum disagree on $f"
	BAD=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bad_checksum_pages"])' "$out.json")
	IC_RC=$ic_rc
}

t_log "clean tablespaces: inspect and innochecksum agree"
for f in $FILES; do
	check "$f"
	[ "$BAD" = "[]" ] && [ "$IC_RC" = 0 ] || t_fail "$f: bad pages $BAD on a clean shutdown"
done

t_log "system tablespace (its doublewrite buffer included) and mysql.* tables: inspect and innochecksum agree"
for f in "$T/db/data/ibdata1" "$T"/db/data/mysql/*.ibd; do
	check "$f"
done

t_log "a file name that is not UTF-8 still gives JSON; a FIFO is refused, not waited on"
odd=$T/$(printf 'caf\xe9').ibd
cp "$T/db/data/t/plain_crc32.ibd" "$odd"
for args in "" "--page=3"; do
	"$CLONEFS_BIN/clonefs" inspect "$odd" $args --json | python3 -c 'import json,sys; json.load(sys.stdin)' ||
		t_fail "inspect $args --json of a Latin-1 file name is not JSON"
done
mkfifo "$T/fifo"
rc=0
timeout 30 "$CLONEFS_BIN/clonefs" inspect "$T/fifo" 2>"$T/fifo.err" || rc=$?
[ "$rc" = 1 ] || t_fail "inspect of a FIFO exited $rc, expected 1 (124 means it hung)"
cfs_assert_one_error "$T/fifo.err" 7007

t_log "one flipped byte in page $CORRUPT_PAGE of a copy: that page and no other"
mkdir -p "$T/corrupt"
for f in $FILES; do
	c=$T/corrupt/$(basename "$f")
	cp "$f" "$c"
	ps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["physical_page_size"])' "$T/out/$(basename "$f").json")
	python3 - "$c" $((CORRUPT_PAGE * ps + CORRUPT_AT)) <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)[0]
    f.seek(int(sys.argv[2])); f.write(bytes([b ^ 0xFF]))
PY
	check "$c"
	case $(basename "$f") in
	pcomp_crc32.ibd | encpc_crc32.ibd)
		# page_compressed pages of the crc32 format carry no checksum: neither tool can tell
		[ "$BAD" = "[]" ] || t_fail "$c: page_compressed page reported bad: $BAD" ;;
	*)
		[ "$BAD" = "[$CORRUPT_PAGE]" ] || t_fail "$c: bad pages $BAD, expected [$CORRUPT_PAGE]"
		[ "$IC_RC" != 0 ] || t_fail "$c: innochecksum passed a corrupt page" ;;
	esac
done

# ---- Through a lazy mount: --page=N reads page 0 and page N, nothing else ----------------------
db_start "$T/donor"
DONOR_SOCK="$T/donor/mysql.sock"
# ~10 MiB: the page inspected sits in a chunk of its own, far from chunk 0
db_sql "$DONOR_SOCK" "CREATE DATABASE t; USE t; CREATE TABLE big ($cols) ENGINE=InnoDB;
	INSERT INTO big SELECT seq, seq % 1000, REPEAT(MD5(seq), 4) FROM seq_1_to_20000;"
cfs_make_clone_user "$DONOR_SOCK" cloner 'pw-inspect'
PORT=$(t_free_port)
cfs_start_donor "$T" "$PORT" "$DONOR_SOCK" "$T/donor/data"
mkdir -p "$T/mnt"
CLONEFS_PASSWORD='pw-inspect' "$CLONEFS_BIN/mount.clonefs" "cloner@127.0.0.1:$PORT" "$T/mnt" \
	-o "ssl_mode=disabled,prefetch=off,cache_dir=$T/cache"
t_on_exit "fusermount3 -u '$T/mnt' 2>/dev/null || true"

counters() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["chunks_fetched"], d["chunk_size"])' "$T/mnt/.clonefs/status"; }
read -r c0 cs < <(counters)
[ "$c0" = 0 ] || t_fail "a fresh prefetch=off mount fetched $c0 chunks before any read"
size=$(stat -c %s "$T/mnt/t/big.ibd")
PAGE_SIZE=16384 # innodb_page_size of the donor (the default)
[ "$size" -ge $((4 * cs)) ] || t_fail "t/big.ibd is only $size bytes, less than 4 chunks"
N=$((3 * cs / PAGE_SIZE)) # the first page of the fourth chunk
"$CLONEFS_BIN/clonefs" inspect "$T/mnt/t/big.ibd" --page="$N" --json >"$T/page.mnt.json" ||
	t_fail "clonefs inspect --page=$N on the mount exited $?"
read -r c1 _ < <(counters)
t_log "inspect --page=$N of t/big.ibd ($size bytes): chunks_fetched $c0 -> $c1 (chunk size $cs)"
[ "$c1" = 2 ] || t_fail "inspect --page=$N fetched $c1 chunks, expected exactly 2 (page 0's and page $N's)"

# Another page of chunk 0 fetches nothing more.
"$CLONEFS_BIN/clonefs" inspect "$T/mnt/t/big.ibd" --page=3 --json >/dev/null || t_fail "inspect --page=3 exited $?"
read -r c2 _ < <(counters)
[ "$c2" = 2 ] || t_fail "inspect --page=3 (chunk 0, cached) fetched $((c2 - c1)) more chunks"

# The page decodes as it does in the donor's snapshot.
snapfile=$(find "$T/state" -path '*/t/big.ibd' -print -quit)
[ -n "$snapfile" ] || t_fail "cannot find t/big.ibd in the donor's snapshot directory"
"$CLONEFS_BIN/clonefs" inspect "$snapfile" --page="$N" --json >"$T/page.snap.json"
python3 - "$T/page.mnt.json" "$T/page.snap.json" "$N" <<'PY' || t_fail "page $N decodes differently through the mount"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
a.pop("file"); b.pop("file")
assert a == b, (a, b)
assert a["page"] == int(sys.argv[3]) and a["checksum"]["valid"] is True, a
print(f"page {a['page']}: {a['type']}, {a['checksum']['matched']}, index {a['index'] and a['index']['index_id']}")
PY
t_log "PASS: inspect agrees with innochecksum on 10 tablespaces, ibdata1, mysql.* and 10 corrupt copies; --page=$N fetched 2 chunks"
