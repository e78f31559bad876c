/* ctl.h: the contract between a mount and the tools that read it: the names under /.clonefs/, the
 * extended attributes a materializer asks for, and the keys of the status document and the facts
 * file that a tool reads. The mount writes them (fs/status.c, fs/fuse_ll.c), the tools read them
 * (tools/mountinfo.c, tools/status_cmd.c, tools/cache_copy.c, tools/materialize.c); a name changes
 * here or nowhere. A key no tool reads needs no name here: it is one json_kv_* line in status.c. */
#ifndef CLONEFS_CTL_H
#define CLONEFS_CTL_H

/* The virtual directory at the root of every mount and its files. */
#define CTL_DIR_NAME ".clonefs"         /* hidden from ls; materialize skips it */
#define CTL_STATUS "status"             /* JSON, DESIGN §9: `clonefs status --json` prints it as is */
#define CTL_FACTS "facts"               /* "key<TAB>value" lines: the donor's facts and the keys below */
#define CTL_METRICS "metrics"           /* the mount's counters, Prometheus text format (docs/systemd.md) */
#define CTL_STATUS_PATH "/" CTL_DIR_NAME "/" CTL_STATUS
#define CTL_FACTS_PATH "/" CTL_DIR_NAME "/" CTL_FACTS
/* Beside the datadir's files: tablespaces outside the donor's datadir, under their absolute paths. */
#define CTL_EXTERNAL_NAME ".external"

/* Extended attributes of a regular file (D13): the path of its complete, verified data file in the
 * cache (to copy with copy_file_range), or on a handoff=on mount the data file handed over. */
#define CTL_XATTR_CACHE_FILE "user.clonefs.cache_file"
#define CTL_XATTR_HANDOFF "user.clonefs.handoff"

/* Keys of the status document the tools read. Nested objects: "donor" and "time_s". */
#define CTL_ST_SNAPSHOT_ID "snapshot_id"
#define CTL_ST_DONOR "donor"            /* { version, version_comment, host, port, hostname, method } */
#define CTL_ST_DONOR_VERSION "version"
#define CTL_ST_DONOR_HOST "host"
#define CTL_ST_DONOR_PORT "port"
#define CTL_ST_STATE "state"
#define CTL_ST_BYTES_TOTAL "bytes_total"
#define CTL_ST_BYTES_CACHED "bytes_cached"
#define CTL_ST_BYTES_FETCHED "bytes_fetched"
#define CTL_ST_BYTES_WIRE "bytes_wire"
#define CTL_ST_CACHE_MAX "cache_max"
#define CTL_ST_CHUNKS_EVICTED "chunks_evicted"
#define CTL_ST_RATE "rate_bytes_per_s"
#define CTL_ST_ETA "eta_s"
#define CTL_ST_BINLOG_FILE "binlog_file"
#define CTL_ST_BINLOG_POS "binlog_pos"
#define CTL_ST_GTID_POS "gtid_pos"
#define CTL_ST_TLS "tls"
#define CTL_ST_UPPER "upper"            /* a thin clone: its upper directory ("" for a read-only mount) */
#define CTL_ST_BYTES_WRITTEN "bytes_written" /* a thin clone: bytes the clone wrote */
#define CTL_ST_LAST_ERROR "last_error"  /* "ERROR <code> (<state>): <message>" or "" */
#define CTL_ST_FACTS "facts"            /* the donor's facts again, as an object */

/* Keys of the facts file the mount adds to the donor's facts, and the donor facts the tools need. */
#define CTL_FACT_SNAPSHOT_ID "snapshot_id"
#define CTL_FACT_DONOR_HOST "donor_host"
#define CTL_FACT_DONOR_PORT "donor_port"
#define CTL_FACT_BYTES_TOTAL "bytes_total"
#define CTL_FACT_BINLOG_FILE "binlog_file"
#define CTL_FACT_BINLOG_POS "binlog_pos"
#define CTL_FACT_GTID_POS "gtid_pos"

#endif
