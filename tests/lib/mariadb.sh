# mariadb.sh: throwaway MariaDB servers for tests: start/stop, sample data in every engine MariaDB
# enables by default, checksums of everything, a continuous write load, mysqld_safe on a datadir.
# Binary logs go to DIR/binlog (outside the datadir: they are not part of a clone).

_db_client() { mariadb --no-defaults -S "$1" -u root "${@:2}"; }

# db_sql SOCK SQL: run SQL as root, batch output without headers.
db_sql() { _db_client "$1" -N -B -e "$2"; }

_db_wait_ready() {
	local sock=$1 log=$2
	t_wait_for "mariadb-admin --no-defaults -S '$sock' -u root ping >/dev/null 2>&1" 60 ||
		{ tail -20 "$log" 2>/dev/null; t_fail "MariaDB on $sock did not start"; }
}

# db_start DIR [mariadbd options...]: a fresh server with its datadir in DIR/data, socket
# DIR/mysql.sock, binary logs in DIR/binlog; stopped at exit. It takes PROXY protocol headers on its
# socket (proxy_protocol_networks=localhost), as a clonefsd donor's server must (docs/donor.md).
# $DB_INSTALL_ARGS (words) go to mariadb-install-db too: settings fixed when the datadir is made
# (innodb_undo_tablespaces).
db_start() {
	local dir=$1
	shift
	# Its own tmpdir: servers bootstrapping at once in a shared /tmp lost each other's temporary
	# tables ("Error on delete of '/tmp/#sql-temptable-...MAI'": mariadb-install-db failed).
	mkdir -p "$dir/data" "$dir/binlog" "$dir/tmp"
	chown -R mysql:mysql "$dir"
	mariadb-install-db --no-defaults --datadir="$dir/data" --user=mysql --auth-root-authentication-method=normal \
		--skip-test-db --tmpdir="$dir/tmp" ${DB_INSTALL_ARGS:-} >"$dir/install.log" 2>&1 ||
		{ grep -m10 -E "ERROR|\[ERROR\]|rror" "$dir/install.log" || head -20 "$dir/install.log"; t_fail "mariadb-install-db failed"; }
	t_on_exit "db_stop '$dir'"
	db_resume "$dir" "$@"
}

# db_resume DIR [mariadbd options...]: start the server of db_start's DIR again (after db_stop).
db_resume() {
	local dir=$1
	shift
	mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/mysql.sock" --pid-file="$dir/mysqld.pid" \
		--log-error="$dir/error.log" --skip-networking --user=mysql --log-bin="$dir/binlog/binlog" \
		--server-id=1 --binlog-format=ROW --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
		--tmpdir="$dir/tmp" --proxy-protocol-networks=localhost "$@" >/dev/null 2>&1 &
	_db_wait_ready "$dir/mysql.sock" "$dir/error.log"
}

# db_stop DIR: clean shutdown, bounded; killed after 60 s.
db_stop() {
	local dir=$1 pid
	[ -f "$dir/mysqld.pid" ] || return 0
	pid=$(cat "$dir/mysqld.pid" 2>/dev/null) || return 0
	timeout 60 mariadb-admin --no-defaults -S "$dir/mysql.sock" -u root shutdown >/dev/null 2>&1 || true
	t_wait_for "! kill -0 $pid 2>/dev/null" 60 || kill -9 "$pid" 2>/dev/null || true
	rm -f "$dir/mysqld.pid"
}

# db_start_safe DATADIR DIR: start mysqld_safe --datadir=DATADIR (socket DIR/mysql.sock) as a DBA
# would on a materialized clone; stopped at exit.
db_start_safe() {
	local datadir=$1 dir=$2
	mkdir -p "$dir"
	chown mysql:mysql "$dir"
	mysqld_safe --no-defaults --datadir="$datadir" --socket="$dir/mysql.sock" --pid-file="$dir/mysqld.pid" \
		--log-error="$dir/error.log" --skip-networking --user=mysql >"$dir/mysqld_safe.log" 2>&1 &
	t_on_exit "db_stop '$dir'"
	_db_wait_ready "$dir/mysql.sock" "$dir/error.log"
}

# db_load_sample SOCK [MB]: schema `sample`, about MB megabytes (default 20): InnoDB in every row
# format, page-compressed, partitioned, MyISAM, Aria, BLOBs, a view, a trigger, routines, an event,
# users with grants, and sample.txlog for write loads.
db_load_sample() {
	local sock=$1 mb=${2:-20}
	local n=$((mb * 500))
	local cols="id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(200), c TEXT, KEY(a)"
	local fill="SELECT seq, seq % 1000, MD5(seq), REPEAT(SHA2(seq, 256), 2) FROM seq_1_to_$n"
	_db_client "$sock" <<SQL
CREATE DATABASE sample;
USE sample;
CREATE TABLE t_dynamic ($cols) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;
CREATE TABLE t_compact ($cols) ENGINE=InnoDB ROW_FORMAT=COMPACT;
CREATE TABLE t_redundant ($cols) ENGINE=InnoDB ROW_FORMAT=REDUNDANT;
CREATE TABLE t_compressed ($cols) ENGINE=InnoDB ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8;
CREATE TABLE t_pagecomp ($cols) ENGINE=InnoDB PAGE_COMPRESSED=1;
CREATE TABLE t_part ($cols) ENGINE=InnoDB PARTITION BY HASH(id) PARTITIONS 4;
CREATE TABLE t_myisam ($cols) ENGINE=MyISAM;
CREATE TABLE t_aria ($cols) ENGINE=Aria;
CREATE TABLE t_blob (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB;
CREATE TABLE txlog (id BIGINT AUTO_INCREMENT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6), note VARCHAR(64)) ENGINE=InnoDB;
CREATE TABLE counters (name VARCHAR(32) PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB;
INSERT INTO counters VALUES ('dynamic_inserts', 0);
INSERT INTO t_dynamic $fill;
INSERT INTO t_compact $fill;
INSERT INTO t_redundant $fill;
INSERT INTO t_compressed $fill;
INSERT INTO t_pagecomp $fill;
INSERT INTO t_part $fill;
INSERT INTO t_myisam $fill;
INSERT INTO t_aria $fill;
INSERT INTO t_blob SELECT seq, REPEAT(UNHEX(SHA2(seq, 512)), 64) FROM seq_1_to_$((n / 10));
CREATE VIEW v_summary AS SELECT a, COUNT(*) AS n, SUM(id) AS s FROM t_dynamic GROUP BY a;
CREATE TRIGGER t_dynamic_ai AFTER INSERT ON t_dynamic FOR EACH ROW UPDATE counters SET n = n + 1 WHERE name = 'dynamic_inserts';
CREATE PROCEDURE p_touch(IN k INT) UPDATE t_dynamic SET a = a + 1 WHERE id = k;
CREATE FUNCTION f_double(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
CREATE EVENT e_noop ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1;
CREATE USER 'app'@'localhost' IDENTIFIED BY 'app-pw';
GRANT SELECT, INSERT, UPDATE ON sample.* TO 'app'@'localhost';
CREATE USER 'reporter'@'%' IDENTIFIED BY 'rep-pw';
GRANT SELECT ON sample.v_summary TO 'reporter'@'%';
SQL
}

# db_checksums SOCK: "schema.table<TAB>checksum" for every base table outside the system schemas,
# the grant and routine tables of `mysql`, and counts of views, triggers, routines, events, users.
db_checksums() {
	local sock=$1 tables
	tables=$(db_sql "$sock" "SELECT GROUP_CONCAT(CONCAT('\`', TABLE_SCHEMA, '\`.\`', TABLE_NAME, '\`') ORDER BY TABLE_SCHEMA, TABLE_NAME)
		FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND (TABLE_SCHEMA NOT IN
		('information_schema', 'performance_schema', 'sys', 'mysql') OR (TABLE_SCHEMA = 'mysql' AND TABLE_NAME IN
		('global_priv', 'db', 'tables_priv', 'columns_priv', 'procs_priv', 'proxies_priv', 'roles_mapping', 'proc', 'event')))")
	db_sql "$sock" "CHECKSUM TABLE $tables EXTENDED" | sort
	db_sql "$sock" "SELECT 'count.views', COUNT(*) FROM information_schema.VIEWS;
		SELECT 'count.triggers', COUNT(*) FROM information_schema.TRIGGERS;
		SELECT 'count.routines', COUNT(*) FROM information_schema.ROUTINES;
		SELECT 'count.events', COUNT(*) FROM information_schema.EVENTS;
		SELECT 'count.users', COUNT(*) FROM mysql.global_priv;"
}

# db_write_load_start SOCK: a continuous write load (transactions on InnoDB plus Aria inserts, each
# appending to sample.txlog) until db_write_load_stop; bounded to 10 minutes.
db_write_load_start() {
	local sock=$1
	DB_LOAD_STOP=$(mktemp -u /tmp/clonefs-load-stop.XXXXXX)
	(
		i=0
		end=$((SECONDS + 600))
		while [ ! -e "$DB_LOAD_STOP" ] && [ $SECONDS -lt $end ]; do
			i=$((i + 1))
			echo "BEGIN; INSERT INTO sample.txlog (note) VALUES ('load $i');
			      UPDATE sample.t_dynamic SET a = a + 1 WHERE id = 1 + ($i * 7919) % 1000;
			      INSERT INTO sample.t_dynamic (id, a, b) VALUES (10000000 + $i, $i, 'load');
			      COMMIT;
			      INSERT INTO sample.t_aria (id, a, b) VALUES (10000000 + $i, $i, 'load');"
			[ $((i % 20)) = 0 ] && sleep 0.02
		done | mariadb --no-defaults -S "$sock" -u root
	) &
	DB_LOAD_PID=$!
	t_on_exit "db_write_load_stop"
}

db_write_load_stop() {
	[ -n "${DB_LOAD_PID:-}" ] || return 0
	touch "$DB_LOAD_STOP"
	t_wait_for "! kill -0 $DB_LOAD_PID 2>/dev/null" 60 || kill "$DB_LOAD_PID" 2>/dev/null || true
	wait "$DB_LOAD_PID" 2>/dev/null || true
	rm -f "$DB_LOAD_STOP"
	DB_LOAD_PID=
}
