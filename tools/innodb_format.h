/* innodb_format.h: every on-disk offset and constant of an InnoDB tablespace that clonefs reads:
 * FIL page header and trailer, FSP header and flags (MariaDB full_crc32 and the older
 * MySQL-compatible layout), extent descriptors, page types, INDEX page header, page_compressed and
 * encryption metadata. Each names the MariaDB 10.11 source symbol it mirrors (storage/innobase/
 * include/fil0fil.h, fsp0types.h, fsp0fsp.h, page0page.h, fil0crypt.h, buf/buf0checksum.cc). */
#ifndef CLONEFS_INNODB_FORMAT_H
#define CLONEFS_INNODB_FORMAT_H

/* ---- Page sizes (univ.i) ---------------------------------------------------------------------- */
enum {
	INNODB_PAGE_SIZE_MIN = 4096,       /* UNIV_PAGE_SIZE_MIN */
	INNODB_PAGE_SIZE_MAX = 65536,      /* UNIV_PAGE_SIZE_MAX */
	INNODB_PAGE_SIZE_DEFAULT = 16384,  /* UNIV_PAGE_SIZE_ORIG: what PAGE_SSIZE 0 means */
	INNODB_ZIP_SIZE_MIN = 1024,        /* UNIV_ZIP_SIZE_MIN: smallest ROW_FORMAT=COMPRESSED page */
};

/* Page size "shift sizes" (univ.i, fsp0types.h): a page of ssize s has INNODB_SSIZE_UNIT << s bytes. */
enum {
	INNODB_SSIZE_UNIT = INNODB_ZIP_SIZE_MIN >> 1, /* UNIV_ZIP_SIZE_MIN >> 1: ssize 1 = 1K */
	INNODB_PAGE_SSIZE_MIN = 3,        /* UNIV_PAGE_SSIZE_MIN: 4K */
	INNODB_PAGE_SSIZE_ORIG = 5,       /* UNIV_PAGE_SSIZE_ORIG: 16K, stored as 0 in the older layout */
	INNODB_PAGE_SSIZE_MAX = 7,        /* UNIV_PAGE_SSIZE_MAX: 64K */
};

/* ---- FIL page header (fil0fil.h), at the start of every page ---------------------------------- */
enum {
	INNODB_FIL_PAGE_SPACE_OR_CHKSUM = 0,  /* FIL_PAGE_SPACE_OR_CHKSUM: checksum (not full_crc32) */
	INNODB_FIL_PAGE_FCRC32_KEY_VERSION = 0, /* FIL_PAGE_FCRC32_KEY_VERSION: full_crc32 key version */
	INNODB_FIL_PAGE_OFFSET = 4,           /* FIL_PAGE_OFFSET: page number */
	INNODB_FIL_PAGE_PREV = 8,             /* FIL_PAGE_PREV */
	INNODB_FIL_PAGE_NEXT = 12,            /* FIL_PAGE_NEXT */
	INNODB_FIL_PAGE_LSN = 16,             /* FIL_PAGE_LSN: 8 bytes */
	INNODB_FIL_PAGE_TYPE = 24,            /* FIL_PAGE_TYPE: 2 bytes */
	/* FIL_PAGE_FILE_FLUSH_LSN_OR_KEY_VERSION: 8 bytes. Page 0 of ibdata1: flush LSN. Other pages of
	 * non-full_crc32 spaces: 32-bit key version + 32-bit post-encryption checksum, or zero.
	 * Also FIL_PAGE_COMP_ALGO on page_compressed pages. */
	INNODB_FIL_PAGE_FILE_FLUSH_LSN_OR_KEY_VERSION = 26,
	INNODB_FIL_PAGE_CRYPT_CHECKSUM = 30,  /* FIL_PAGE_FILE_FLUSH_LSN_OR_KEY_VERSION + 4 (fil0crypt.cc) */
	INNODB_FIL_PAGE_COMP_ALGO = 26,       /* FIL_PAGE_COMP_ALGO */
	INNODB_FIL_PAGE_SPACE_ID = 34,        /* FIL_PAGE_ARCH_LOG_NO_OR_SPACE_ID / FIL_PAGE_SPACE_ID */
	INNODB_FIL_PAGE_DATA = 38,            /* FIL_PAGE_DATA: end of the header */
};

/* ---- FIL page trailer (fil0fil.h), at the end of every page ----------------------------------- */
enum {
	INNODB_FIL_PAGE_END_LSN_OLD_CHKSUM = 8, /* FIL_PAGE_END_LSN_OLD_CHKSUM: old checksum + LSN low 32 */
	INNODB_FIL_PAGE_DATA_END = 8,           /* FIL_PAGE_DATA_END: trailer size */
	INNODB_FIL_PAGE_FCRC32_END_LSN = 8,     /* FIL_PAGE_FCRC32_END_LSN: LSN low 32 (full_crc32) */
	INNODB_FIL_PAGE_FCRC32_CHECKSUM = 4,    /* FIL_PAGE_FCRC32_CHECKSUM: CRC-32C of all bytes before it */
};

#define INNODB_FIL_NULL 0xFFFFFFFFu          /* FIL_NULL: no page (prev/next of an end page) */
#define INNODB_BUF_NO_CHECKSUM_MAGIC 0xDEADBEEFu /* BUF_NO_CHECKSUM_MAGIC: innodb_checksum_algorithm=none */

/* ---- page_compressed metadata without full_crc32 (fil0fil.h), relative to FIL_PAGE_DATA ------- */
enum {
	INNODB_FIL_PAGE_COMP_SIZE = 0,               /* FIL_PAGE_COMP_SIZE: 2-byte payload size */
	INNODB_FIL_PAGE_COMP_METADATA_LEN = 2,       /* FIL_PAGE_COMP_METADATA_LEN */
	INNODB_FIL_PAGE_ENCRYPT_COMP_ALGO = 2,       /* FIL_PAGE_ENCRYPT_COMP_ALGO: 2-byte algorithm */
	INNODB_FIL_PAGE_ENCRYPT_COMP_METADATA_LEN = 4, /* FIL_PAGE_ENCRYPT_COMP_METADATA_LEN */
};

/* ---- Page types: FIL_PAGE_TYPE values (fil0fil.h; MySQL 5.7/8.0 fil0types.h for 14-17, 17853) */
enum {
	INNODB_PAGE_TYPE_ALLOCATED = 0,       /* FIL_PAGE_TYPE_ALLOCATED: freshly allocated */
	INNODB_PAGE_TYPE_UNDO_LOG = 2,        /* FIL_PAGE_UNDO_LOG */
	INNODB_PAGE_TYPE_INODE = 3,           /* FIL_PAGE_INODE */
	INNODB_PAGE_TYPE_IBUF_FREE_LIST = 4,  /* FIL_PAGE_IBUF_FREE_LIST */
	INNODB_PAGE_TYPE_IBUF_BITMAP = 5,     /* FIL_PAGE_IBUF_BITMAP */
	INNODB_PAGE_TYPE_SYS = 6,             /* FIL_PAGE_TYPE_SYS */
	INNODB_PAGE_TYPE_TRX_SYS = 7,         /* FIL_PAGE_TYPE_TRX_SYS */
	INNODB_PAGE_TYPE_FSP_HDR = 8,         /* FIL_PAGE_TYPE_FSP_HDR */
	INNODB_PAGE_TYPE_XDES = 9,            /* FIL_PAGE_TYPE_XDES */
	INNODB_PAGE_TYPE_BLOB = 10,           /* FIL_PAGE_TYPE_BLOB */
	INNODB_PAGE_TYPE_ZBLOB = 11,          /* FIL_PAGE_TYPE_ZBLOB */
	INNODB_PAGE_TYPE_ZBLOB2 = 12,         /* FIL_PAGE_TYPE_ZBLOB2 */
	INNODB_PAGE_TYPE_UNKNOWN = 13,        /* FIL_PAGE_TYPE_UNKNOWN */
	INNODB_PAGE_TYPE_COMPRESSED = 14,     /* MySQL FIL_PAGE_COMPRESSED (not in MariaDB) */
	INNODB_PAGE_TYPE_ENCRYPTED = 15,      /* MySQL FIL_PAGE_ENCRYPTED (not in MariaDB) */
	INNODB_PAGE_TYPE_COMPRESSED_AND_ENCRYPTED = 16, /* MySQL FIL_PAGE_COMPRESSED_AND_ENCRYPTED */
	INNODB_PAGE_TYPE_ENCRYPTED_RTREE = 17, /* MySQL FIL_PAGE_ENCRYPTED_RTREE */
	INNODB_PAGE_TYPE_INSTANT = 18,        /* FIL_PAGE_TYPE_INSTANT (MariaDB; MySQL 8 uses 18 for SDI_BLOB) */
	INNODB_PAGE_TYPE_SDI = 17853,         /* MySQL 8.0 FIL_PAGE_SDI */
	INNODB_PAGE_TYPE_RTREE = 17854,       /* FIL_PAGE_RTREE */
	INNODB_PAGE_TYPE_INDEX = 17855,       /* FIL_PAGE_INDEX */
	INNODB_PAGE_TYPE_PAGE_COMPRESSED = 34354,           /* FIL_PAGE_PAGE_COMPRESSED */
	INNODB_PAGE_TYPE_PAGE_COMPRESSED_ENCRYPTED = 37401, /* FIL_PAGE_PAGE_COMPRESSED_ENCRYPTED */
};

/* FIL_PAGE_COMPRESS_FCRC32_MARKER: in a full_crc32 space, bit 15 of FIL_PAGE_TYPE set means the page
 * is page_compressed and the low bits hold its stored size in 256-byte units (buf_page_full_crc32_size). */
#define INNODB_PAGE_TYPE_FCRC32_COMPRESSED 0x8000u
#define INNODB_FCRC32_COMPRESSED_SIZE_SHIFT 8

/* ---- FSP header (fsp0fsp.h), on page 0 at FSP_HEADER_OFFSET ------------------------------------ */
enum {
	INNODB_FSP_HEADER_OFFSET = INNODB_FIL_PAGE_DATA, /* FSP_HEADER_OFFSET */
	INNODB_FSP_SPACE_ID = 0,            /* FSP_SPACE_ID */
	INNODB_FSP_NOT_USED = 4,            /* FSP_NOT_USED */
	INNODB_FSP_SIZE = 8,                /* FSP_SIZE: size of the space in pages */
	INNODB_FSP_FREE_LIMIT = 12,         /* FSP_FREE_LIMIT: pages below it have initialized XDES */
	INNODB_FSP_SPACE_FLAGS = 16,        /* FSP_SPACE_FLAGS */
	INNODB_FSP_FRAG_N_USED = 20,        /* FSP_FRAG_N_USED */
	INNODB_FLST_BASE_NODE_SIZE = 16,    /* FLST_BASE_NODE_SIZE (fut0lst.h): 4 + 2 * FIL_ADDR_SIZE */
	INNODB_FLST_NODE_SIZE = 12,         /* FLST_NODE_SIZE: 2 * FIL_ADDR_SIZE */
	/* FSP_HEADER_SIZE: 32 bytes of fields and 5 list base nodes */
	INNODB_FSP_HEADER_SIZE = 32 + 5 * INNODB_FLST_BASE_NODE_SIZE,
};

/* ---- Extent descriptors (fsp0fsp.h): an array after the FSP header on page 0 and on every XDES
 * page (pages n * physical_size); one descriptor per extent, two bits per page. -------------------- */
enum {
	INNODB_XDES_ARR_OFFSET = INNODB_FSP_HEADER_OFFSET + INNODB_FSP_HEADER_SIZE, /* XDES_ARR_OFFSET */
	INNODB_XDES_ID = 0,                 /* XDES_ID: segment id, 8 bytes */
	INNODB_XDES_FLST_NODE = 8,          /* XDES_FLST_NODE */
	INNODB_XDES_STATE = 20,             /* XDES_STATE: 4 bytes */
	INNODB_XDES_BITMAP = INNODB_FLST_NODE_SIZE + 12, /* XDES_BITMAP */
	INNODB_XDES_BITS_PER_PAGE = 2,      /* XDES_BITS_PER_PAGE */
	INNODB_XDES_FREE_BIT = 0,           /* XDES_FREE_BIT: set = page free */
	INNODB_XDES_CLEAN_BIT = 1,          /* XDES_CLEAN_BIT */
};

/* XDES_SIZE: one descriptor, for an extent of `extent_pages` pages (FSP_EXTENT_SIZE). */
#define INNODB_XDES_SIZE(extent_pages) \
	(INNODB_XDES_BITMAP + ((extent_pages) * INNODB_XDES_BITS_PER_PAGE + 7) / 8)

/* FSP_EXTENT_SIZE (fsp0types.h): 1 MiB of pages up to 16K pages, 2 MiB at 32K, 4 MiB at 64K. The
 * logical page size decides it, also for ROW_FORMAT=COMPRESSED spaces. */
#define INNODB_EXTENT_PAGES(logical) \
	((logical) <= 16384u ? 1048576u / (logical) : (logical) <= 32768u ? 2097152u / (logical) \
							  : 4194304u / (logical))

/* ---- FSP_SPACE_FLAGS, older MySQL-compatible layout (fsp0types.h) ------------------------------ */
enum {
	INNODB_FSP_FLAGS_POS_POST_ANTELOPE = 0,    /* FSP_FLAGS_POS_POST_ANTELOPE: not REDUNDANT */
	INNODB_FSP_FLAGS_POS_ZIP_SSIZE = 1,        /* FSP_FLAGS_POS_ZIP_SSIZE: 4 bits, KEY_BLOCK_SIZE */
	INNODB_FSP_FLAGS_WIDTH_ZIP_SSIZE = 4,      /* FSP_FLAGS_WIDTH_ZIP_SSIZE */
	INNODB_FSP_FLAGS_POS_ATOMIC_BLOBS = 5,     /* FSP_FLAGS_POS_ATOMIC_BLOBS: DYNAMIC or COMPRESSED */
	INNODB_FSP_FLAGS_POS_PAGE_SSIZE = 6,       /* FSP_FLAGS_POS_PAGE_SSIZE: 4 bits, 0 = 16K */
	INNODB_FSP_FLAGS_WIDTH_PAGE_SSIZE = 4,     /* FSP_FLAGS_WIDTH_PAGE_SSIZE */
	INNODB_FSP_FLAGS_POS_RESERVED = 10,        /* FSP_FLAGS_POS_RESERVED: 6 bits */
	INNODB_FSP_FLAGS_POS_DATA_DIR = 10,        /* MySQL 5.6 DATA_DIR, ignored by MariaDB */
	INNODB_FSP_FLAGS_POS_SHARED = 11,          /* MySQL 5.7 SHARED (general tablespace) */
	INNODB_FSP_FLAGS_POS_TEMPORARY = 12,       /* MySQL 5.7 TEMPORARY */
	INNODB_FSP_FLAGS_POS_ENCRYPTION = 13,      /* MySQL 5.7 ENCRYPTION */
	INNODB_FSP_FLAGS_POS_SDI = 14,             /* MySQL 8.0 SDI */
	/* MariaDB 10.1.0-10.1.20 wrote PAGE_COMPRESSION and ATOMIC_WRITES from here (the "misplaced"
	 * flags fsp_flags_convert_from_101() repairs); no valid current layout sets it */
	INNODB_FSP_FLAGS_POS_MARIADB_101_MISPLACED = 15,
	INNODB_FSP_FLAGS_POS_PAGE_COMPRESSION = 16, /* FSP_FLAGS_POS_PAGE_COMPRESSION (MariaDB) */
	INNODB_FSP_FLAGS_WIDTH = 17,               /* FSP_FLAGS_WIDTH: bits above are invalid */
};

/* ---- FSP_SPACE_FLAGS, MariaDB full_crc32 layout (fsp0types.h) ---------------------------------- */
enum {
	INNODB_FSP_FLAGS_FCRC32_POS_PAGE_SSIZE = 0,      /* FSP_FLAGS_FCRC32_POS_PAGE_SSIZE: 4 bits */
	INNODB_FSP_FLAGS_FCRC32_WIDTH_PAGE_SSIZE = 4,    /* FSP_FLAGS_FCRC32_WIDTH_PAGE_SSIZE */
	INNODB_FSP_FLAGS_FCRC32_POS_MARKER = 4,          /* FSP_FLAGS_FCRC32_POS_MARKER */
	INNODB_FSP_FLAGS_FCRC32_POS_COMPRESSED_ALGO = 5, /* FSP_FLAGS_FCRC32_POS_COMPRESSED_ALGO: 3 bits */
	INNODB_FSP_FLAGS_FCRC32_WIDTH_COMPRESSED_ALGO = 3, /* FSP_FLAGS_FCRC32_WIDTH_COMPRESSED_ALGO */
	INNODB_FSP_FLAGS_FCRC32_WIDTH = 8,               /* bits above are invalid in full_crc32 */
};

#define INNODB_FSP_FLAGS_FCRC32_MASK_MARKER (1u << INNODB_FSP_FLAGS_FCRC32_POS_MARKER)

/* innodb_compression_algorithm values (fsp0pagecompress.h PAGE_*_ALGORITHM). */
enum {
	INNODB_COMPRESSION_NONE = 0,
	INNODB_COMPRESSION_ZLIB = 1,
	INNODB_COMPRESSION_LZ4 = 2,
	INNODB_COMPRESSION_LZO = 3,
	INNODB_COMPRESSION_LZMA = 4,
	INNODB_COMPRESSION_BZIP2 = 5,
	INNODB_COMPRESSION_SNAPPY = 6,   /* PAGE_ALGORITHM_LAST */
	INNODB_COMPRESSION_UNKNOWN = 255, /* clonefs: a stored value above PAGE_ALGORITHM_LAST */
};

/* ---- INDEX page header (page0page.h), at PAGE_HEADER = FSEG_PAGE_DATA = FIL_PAGE_DATA ----------- */
enum {
	INNODB_PAGE_HEADER = INNODB_FIL_PAGE_DATA, /* PAGE_HEADER */
	INNODB_PAGE_N_DIR_SLOTS = 0,     /* PAGE_N_DIR_SLOTS */
	INNODB_PAGE_HEAP_TOP = 2,        /* PAGE_HEAP_TOP */
	INNODB_PAGE_N_HEAP = 4,          /* PAGE_N_HEAP: bit 15 set = ROW_FORMAT other than REDUNDANT */
	INNODB_PAGE_FREE = 6,            /* PAGE_FREE */
	INNODB_PAGE_GARBAGE = 8,         /* PAGE_GARBAGE */
	INNODB_PAGE_LAST_INSERT = 10,    /* PAGE_LAST_INSERT */
	INNODB_PAGE_DIRECTION_B = 13,    /* PAGE_DIRECTION_B: low 3 bits (PAGE_INSTANT above them) */
	INNODB_PAGE_N_DIRECTION = 14,    /* PAGE_N_DIRECTION */
	INNODB_PAGE_N_RECS = 16,         /* PAGE_N_RECS */
	INNODB_PAGE_MAX_TRX_ID = 18,     /* PAGE_MAX_TRX_ID: 8 bytes */
	INNODB_PAGE_LEVEL = 26,          /* PAGE_LEVEL: 0 = leaf */
	INNODB_PAGE_INDEX_ID = 28,       /* PAGE_INDEX_ID: 8 bytes */
	INNODB_PAGE_BTR_SEG_LEAF = 36,   /* PAGE_BTR_SEG_LEAF: FSEG header, root page only */
	INNODB_FSEG_HEADER_SIZE = 10,    /* FSEG_HEADER_SIZE (fsp0types.h) */
	INNODB_PAGE_BTR_SEG_TOP = INNODB_PAGE_BTR_SEG_LEAF + INNODB_FSEG_HEADER_SIZE, /* PAGE_BTR_SEG_TOP */
	/* PAGE_DATA: PAGE_HEADER + 36 + 2 * FSEG_HEADER_SIZE, first byte of the record heap */
	INNODB_PAGE_DATA = INNODB_PAGE_HEADER + 36 + 2 * INNODB_FSEG_HEADER_SIZE,
};

#define INNODB_PAGE_N_HEAP_COMPACT 0x8000u  /* the "new-style compact page" bit of PAGE_N_HEAP */
#define INNODB_PAGE_DIRECTION_MASK 7u       /* PAGE_DIRECTION_B bits below PAGE_INSTANT */

/* ---- Encryption metadata on page 0 (fil0crypt.h, fil0crypt.cc): at FSP_HEADER_OFFSET +
 * fsp_header_get_encryption_offset(), right after the XDES array of page 0. -------------------- */
enum {
	INNODB_CRYPT_MAGIC_SIZE = 6,     /* MAGIC_SZ */
	INNODB_CRYPT_SCHEME_UNENCRYPTED = 0, /* CRYPT_SCHEME_UNENCRYPTED */
	INNODB_CRYPT_SCHEME_1 = 1,       /* CRYPT_SCHEME_1: AES */
	INNODB_CRYPT_SCHEME_1_IV_LEN = 16, /* CRYPT_SCHEME_1_IV_LEN */
	/* After the magic: type (1), iv_length (1), iv (16), min_key_version (4), key_id (4), encryption (1) */
	INNODB_CRYPT_TYPE = 0,
	INNODB_CRYPT_IV_LEN = 1,
	INNODB_CRYPT_IV = 2,
	INNODB_CRYPT_MIN_KEY_VERSION = 2 + INNODB_CRYPT_SCHEME_1_IV_LEN,
	INNODB_CRYPT_KEY_ID = INNODB_CRYPT_MIN_KEY_VERSION + 4,
	INNODB_CRYPT_ENCRYPTION = INNODB_CRYPT_KEY_ID + 4, /* fil_encryption_t: 0 DEFAULT, 1 ON, 2 OFF */
	INNODB_CRYPT_DATA_SIZE = INNODB_CRYPT_ENCRYPTION + 1,
};

/* CRYPT_MAGIC: 's', 0xE, 0xC, 'R', 'E', 't' */
#define INNODB_CRYPT_MAGIC "\x73\x0e\x0c\x52\x45\x74"

/* Offset of the crypt data in page 0 for a space of `physical` bytes per page and extents of
 * `extent_pages` pages: FSP_HEADER_OFFSET + XDES_ARR_OFFSET + XDES_SIZE * physical / FSP_EXTENT_SIZE
 * (as innochecksum's check_encryption() computes it). */
#define INNODB_CRYPT_OFFSET(physical, extent_pages) \
	(INNODB_FSP_HEADER_OFFSET + INNODB_XDES_ARR_OFFSET + \
	 INNODB_XDES_SIZE(extent_pages) * (physical) / (extent_pages))

/* ---- Legacy innodb checksum (ut0rnd.h: ut_fold_ulint_pair, ut_fold_binary) -------------------- */
#define INNODB_UT_HASH_RANDOM_MASK 1463735687u   /* UT_HASH_RANDOM_MASK */
#define INNODB_UT_HASH_RANDOM_MASK2 1653893711u  /* UT_HASH_RANDOM_MASK2 */

/* The layout facts the parsers rely on. */
_Static_assert(INNODB_FSP_HEADER_SIZE == 112, "FSP_HEADER_SIZE is 112 bytes");
_Static_assert(INNODB_XDES_ARR_OFFSET == 150, "XDES_ARR_OFFSET is 150");
_Static_assert(INNODB_XDES_SIZE(64) == 40, "XDES_SIZE is 40 bytes for 64-page extents");
_Static_assert(INNODB_XDES_SIZE(256) == 88, "XDES_SIZE is 88 bytes for 256-page extents (4K pages)");
_Static_assert(INNODB_PAGE_DATA == 94, "PAGE_DATA is 94");
_Static_assert(INNODB_CRYPT_OFFSET(16384, 64) == 10428, "crypt data sits at 10428 on a 16K page 0");
_Static_assert(INNODB_FIL_PAGE_DATA == INNODB_FIL_PAGE_SPACE_ID + 4, "the FIL header ends with the space id");
_Static_assert(INNODB_FIL_PAGE_LSN % 8 == 0, "FIL_PAGE_LSN is 8-aligned");
_Static_assert(INNODB_PAGE_INDEX_ID + 8 == INNODB_PAGE_BTR_SEG_LEAF, "the index id precedes the segment headers");
_Static_assert(INNODB_CRYPT_DATA_SIZE == 27, "crypt data after the magic is 27 bytes");
_Static_assert(INNODB_FSP_FLAGS_POS_ZIP_SSIZE + INNODB_FSP_FLAGS_WIDTH_ZIP_SSIZE == INNODB_FSP_FLAGS_POS_ATOMIC_BLOBS,
	       "ZIP_SSIZE is followed by ATOMIC_BLOBS");
_Static_assert(INNODB_FSP_FLAGS_POS_PAGE_SSIZE + INNODB_FSP_FLAGS_WIDTH_PAGE_SSIZE == INNODB_FSP_FLAGS_POS_RESERVED,
	       "PAGE_SSIZE is followed by the reserved bits");
_Static_assert(INNODB_FSP_FLAGS_FCRC32_POS_COMPRESSED_ALGO + INNODB_FSP_FLAGS_FCRC32_WIDTH_COMPRESSED_ALGO ==
		       INNODB_FSP_FLAGS_FCRC32_WIDTH, "full_crc32 flags are 8 bits");

#endif
