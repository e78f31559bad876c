/* innodb_page.h: pure parsers of InnoDB tablespace pages: FSP flags, page 0 (space id, encryption
 * metadata), one page (FIL header/trailer, type, INDEX header, checksums stored vs computed and the
 * verdict innochecksum gives), extent descriptor free bits. No I/O, no allocation. */
#ifndef CLONEFS_INNODB_PAGE_H
#define CLONEFS_INNODB_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli), as InnoDB's ut_crc32 / my_crc32c: crc is the previous result (0 to start). */
uint32_t innodb_crc32c(uint32_t crc, const uint8_t *buf, size_t len);

/* Decoded FSP_SPACE_FLAGS. */
struct innodb_flags {
	uint32_t raw;
	bool full_crc32;          /* MariaDB 10.4+ innodb_checksum_algorithm=full_crc32 format */
	uint32_t logical_size;    /* innodb_page_size: 4096..65536 */
	uint32_t physical_size;   /* bytes per page in the file (zip_size for ROW_FORMAT=COMPRESSED) */
	uint32_t zip_size;        /* ROW_FORMAT=COMPRESSED page size 1024..16384, or 0 */
	uint32_t extent_pages;    /* FSP_EXTENT_SIZE */
	bool page_compressed;     /* PAGE_COMPRESSED=1 */
	unsigned compression_algo; /* full_crc32: innodb_compression_algorithm at creation; else 0 */
	/* Older layout only: */
	bool post_antelope;       /* ROW_FORMAT other than REDUNDANT */
	bool atomic_blobs;        /* ROW_FORMAT=DYNAMIC or COMPRESSED */
	bool data_dir;            /* MySQL 5.6 DATA_DIR bit */
	bool mysql_shared;        /* MySQL 5.7 general tablespace */
	bool mysql_temporary;     /* MySQL 5.7 temporary tablespace */
	bool mysql_encryption;    /* MySQL 5.7+ ENCRYPTION='Y' (MariaDB uses crypt data on page 0) */
	bool mysql_sdi;           /* MySQL 8.0 tablespace with SDI pages */
};

/* Decode and validate FSP_SPACE_FLAGS. 0, or -EINVAL when no page size can be derived or the bits
 * are inconsistent (MariaDB 10.1.0-10.1.20's misplaced flags included). */
int innodb_flags_decode(uint32_t raw, struct innodb_flags *out);

/* What a tablespace's page 0 says about every page. */
struct innodb_space {
	struct innodb_flags flags;
	uint32_t space_id;        /* FSP_SPACE_ID */
	uint32_t page0_space_id;  /* FIL_PAGE_SPACE_ID of page 0 (innochecksum compares pages with it) */
	uint32_t fsp_size;        /* FSP_SIZE: pages the space says it has */
	uint32_t free_limit;      /* FSP_FREE_LIMIT */
	bool has_crypt_data;      /* crypt data found on page 0 */
	bool encrypted;           /* crypt data with CRYPT_SCHEME_1: pages with a key version are encrypted */
	uint8_t crypt_scheme;
	uint8_t crypt_mode;       /* 0 DEFAULT, 1 ON, 2 OFF (ENCRYPTED=...) */
	uint32_t crypt_min_key_version;
	uint32_t crypt_key_id;
};

/* Page 0 of a file: flags from the first bytes, then space id and crypt data. `len` is what was
 * read; the crypt data is looked for only when len covers a whole physical page.
 * 0, or -EINVAL (too short, invalid flags). */
int innodb_space_decode(const uint8_t *page0, size_t len, struct innodb_space *out);

/* Bytes to read to learn the flags: FSP_HEADER_OFFSET + FSP_SPACE_FLAGS + 4. */
enum { INNODB_FLAGS_PREFIX_LEN = 58 };

/* Histogram classes of pages (names in innodb_page_class_name). */
enum innodb_page_class {
	INNODB_CLASS_INDEX,
	INNODB_CLASS_RTREE,
	INNODB_CLASS_INSTANT,
	INNODB_CLASS_UNDO_LOG,
	INNODB_CLASS_INODE,
	INNODB_CLASS_IBUF_FREE_LIST,
	INNODB_CLASS_IBUF_BITMAP,
	INNODB_CLASS_SYS,
	INNODB_CLASS_TRX_SYS,
	INNODB_CLASS_FSP_HDR,
	INNODB_CLASS_XDES,
	INNODB_CLASS_BLOB,
	INNODB_CLASS_ZBLOB,
	INNODB_CLASS_ZBLOB2,
	INNODB_CLASS_SDI,
	INNODB_CLASS_SDI_BLOB,              /* MySQL 8.0 SDI BLOB pages (types 18, 19 in SDI spaces) */
	INNODB_CLASS_COMPRESSED,            /* MySQL transparent page compression (type 14) */
	INNODB_CLASS_ENCRYPTED,             /* MySQL encrypted page (type 15) */
	INNODB_CLASS_COMPRESSED_ENCRYPTED,  /* MySQL (type 16) */
	INNODB_CLASS_ENCRYPTED_RTREE,       /* MySQL (type 17) */
	INNODB_CLASS_PAGE_COMPRESSED,       /* MariaDB PAGE_COMPRESSED=1 */
	INNODB_CLASS_PAGE_COMPRESSED_ENCRYPTED,
	INNODB_CLASS_ALLOCATED,             /* FIL_PAGE_TYPE_ALLOCATED (all-zero: never written) */
	INNODB_CLASS_UNKNOWN,               /* FIL_PAGE_TYPE_UNKNOWN (13) */
	INNODB_CLASS_OTHER,                 /* any other value of FIL_PAGE_TYPE */
	INNODB_CLASS_COUNT
};

const char *innodb_page_class_name(enum innodb_page_class c);

/* Which algorithm the stored checksum matches. */
enum innodb_checksum_algo {
	INNODB_ALGO_NONE_MATCHED,  /* matches nothing */
	INNODB_ALGO_CRC32,         /* innodb_checksum_algorithm=crc32 (also the ROW_FORMAT=COMPRESSED variant) */
	INNODB_ALGO_FULL_CRC32,    /* innodb_checksum_algorithm=full_crc32 */
	INNODB_ALGO_INNODB,        /* legacy innodb (fold; Adler-32 for ROW_FORMAT=COMPRESSED) */
	INNODB_ALGO_NONE,          /* innodb_checksum_algorithm=none: BUF_NO_CHECKSUM_MAGIC */
	INNODB_ALGO_CRYPT,         /* post-encryption CRC-32 of an encrypted page (older format) */
	INNODB_ALGO_ZERO,          /* all-zero page: nothing to check */
	INNODB_ALGO_NOT_APPLICABLE /* page_compressed page of the older format: no checksum on it */
};

const char *innodb_checksum_algo_name(enum innodb_checksum_algo a);

/* The verdict innochecksum (MariaDB 10.11) gives the page, before its free-page and doublewrite
 * skips, which need more than one page and are the caller's. */
enum innodb_verdict {
	INNODB_VERDICT_VALID,
	INNODB_VERDICT_ZERO,         /* all-zero page: valid, allocated but never written */
	INNODB_VERDICT_NOT_CHECKED,  /* page_compressed page without full_crc32: innochecksum skips it */
	INNODB_VERDICT_INVALID,
};

/* Why a page is INVALID (the first reason found, in innochecksum's order). */
enum innodb_bad_reason {
	INNODB_BAD_NONE,
	INNODB_BAD_PAGE_NO,     /* FIL_PAGE_OFFSET is not the page's position */
	INNODB_BAD_SPACE_ID,    /* FIL_PAGE_SPACE_ID differs from page 0's */
	INNODB_BAD_SIZE,        /* full_crc32 page_compressed size not below the page size */
	INNODB_BAD_CHECKSUM,    /* stored checksum differs from the computed one */
	INNODB_BAD_LSN,         /* LSN low 32 bits in header and trailer differ */
};

const char *innodb_bad_reason_name(enum innodb_bad_reason r);

struct innodb_index_header {
	uint16_t n_dir_slots, heap_top, n_heap, free, garbage, last_insert, n_direction, n_recs;
	uint8_t direction;
	bool compact;           /* ROW_FORMAT other than REDUNDANT */
	uint16_t level;         /* 0 = leaf */
	uint64_t max_trx_id;
	uint64_t index_id;
};

struct innodb_page {
	uint32_t position;      /* which page of the file this is (the caller's) */
	uint32_t page_no;       /* FIL_PAGE_OFFSET */
	uint32_t prev, next;    /* FIL_PAGE_PREV, FIL_PAGE_NEXT */
	uint64_t lsn;           /* FIL_PAGE_LSN */
	uint16_t type;          /* FIL_PAGE_TYPE */
	uint32_t space_id;      /* FIL_PAGE_SPACE_ID (encrypted or compressed in full_crc32 pages) */
	uint64_t flush_lsn;     /* FIL_PAGE_FILE_FLUSH_LSN_OR_KEY_VERSION as 8 bytes */
	enum innodb_page_class cls;
	bool all_zero;          /* allocated but never written */
	uint32_t key_version;   /* nonzero: encrypted with this key version */
	bool encrypted;         /* key_version != 0 in an encrypted space: body unreadable */
	/* Stored values */
	uint32_t stored_checksum;   /* full_crc32: last 4 bytes (of the stored size); else FIL_PAGE_SPACE_OR_CHKSUM */
	uint32_t stored_checksum2;  /* older format: trailer old-formula checksum */
	uint32_t stored_crypt_checksum; /* older format, encrypted: post-encryption checksum */
	uint32_t trailer_lsn;       /* LSN low 32 bits in the trailer (meaningless when encrypted/compressed) */
	uint32_t stored_size;       /* bytes the checksum covers + 4 (full_crc32) or physical size */
	/* Computed values (0 when not applicable) */
	uint32_t calc_crc32;        /* buf_calc_page_crc32, or page_zip_calc_checksum crc32 for zip pages */
	uint32_t calc_innodb;       /* buf_calc_page_new_checksum, or Adler-32 variant for zip pages */
	uint32_t calc_innodb_old;   /* buf_calc_page_old_checksum */
	uint32_t calc_full_crc32;   /* CRC-32C of the stored size minus 4 */
	/* page_compressed */
	bool compressed;            /* page_compressed page (either format) */
	uint32_t comp_payload;      /* stored payload size */
	unsigned comp_algo;
	/* Verdict */
	enum innodb_checksum_algo matched;
	enum innodb_verdict verdict;
	enum innodb_bad_reason reason;
	bool has_index;             /* INDEX/RTREE/INSTANT page whose header is readable */
	struct innodb_index_header index;
};

/* Decode one page of `sp` at file position `position` (`len` must be sp->flags.physical_size).
 * 0, or -EINVAL when len is wrong. */
int innodb_page_decode(const uint8_t *buf, size_t len, const struct innodb_space *sp, uint32_t position,
		       struct innodb_page *out);

/* Fill every computed checksum the space's format has (the decode computes only what its verdict
 * needs), for showing one page. */
void innodb_page_compute_all(const uint8_t *buf, size_t len, const struct innodb_space *sp, struct innodb_page *pg);

/* Whether the extent descriptor page `xdes` (page 0 or an XDES page) marks page `page_no` free,
 * the way innochecksum's is_page_free() reads it. False when `len` is too short. */
bool innodb_xdes_page_free(const uint8_t *xdes, size_t len, const struct innodb_flags *f, uint32_t page_no);

/* The doublewrite buffer area of the system tablespace (space 0). innochecksum 10.11 checks those
 * pages like any other: the copies of other pages there fail its page-number check. */
bool innodb_is_doublewrite_page(const struct innodb_space *sp, uint32_t position);

/* innodb_compression_algorithm name for a value, or "unknown". */
const char *innodb_compression_name(unsigned algo);

#endif
