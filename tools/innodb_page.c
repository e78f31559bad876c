/* innodb_page.c: decodes InnoDB FSP flags, page 0 and single pages, computes their checksums
 * (crc32, legacy innodb, full_crc32, ROW_FORMAT=COMPRESSED variants) and gives innochecksum's verdict. */
#include "tools/innodb_page.h"

#include <errno.h>
#include <string.h>

#include "tools/innodb_format.h"

_Static_assert(INNODB_FLAGS_PREFIX_LEN == INNODB_FSP_HEADER_OFFSET + INNODB_FSP_SPACE_FLAGS + 4,
	       "the flags prefix ends with FSP_SPACE_FLAGS");
_Static_assert(INNODB_SSIZE_UNIT << INNODB_PAGE_SSIZE_ORIG == INNODB_PAGE_SIZE_DEFAULT, "ssize 5 is 16K");

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define INNODB_HAVE_SSE42 1
#else
#define INNODB_HAVE_SSE42 0
#endif

/* ---- Big-endian readers (mach0data.h mach_read_from_N) ---------------------------------------- */

static inline uint16_t rd2(const uint8_t *p) { return (uint16_t)((unsigned)p[0] << 8 | p[1]); }

static inline uint32_t rd4(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t rd8(const uint8_t *p) { return (uint64_t)rd4(p) << 32 | rd4(p + 4); }

/* ---- CRC-32C ----------------------------------------------------------------------------------- */

/* Reflected polynomial 0x82F63B78, one byte at a time. */
static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if INNODB_HAVE_SSE42
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = ~crc;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8); /* x86 is little-endian: the byte order the instruction expects */
		c = _mm_crc32_u64(c, v);
		p += 8;
		n -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (n--)
		c32 = _mm_crc32_u8(c32, *p++);
	return ~c32;
}
#endif

uint32_t innodb_crc32c(uint32_t crc, const uint8_t *buf, size_t len)
{
#if INNODB_HAVE_SSE42
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_hw(crc, buf, len);
#endif
	return crc32c_sw(crc, buf, len);
}

/* ---- Legacy checksums -------------------------------------------------------------------------- */

/* ut_fold_binary: ut_fold_ulint_pair over each byte. InnoDB folds in ulint and keeps the low 32
 * bits; xor, add and left shift carry nothing downwards, so 32-bit arithmetic gives the same. */
static uint32_t fold_binary(const uint8_t *p, size_t n)
{
	uint32_t fold = 0;
	while (n--) {
		uint32_t b = *p++;
		fold = ((((fold ^ b ^ INNODB_UT_HASH_RANDOM_MASK2) << 8) + fold) ^ INNODB_UT_HASH_RANDOM_MASK) + b;
	}
	return fold;
}

/* zlib's adler32(adler, ...) as page_zip_calc_checksum calls it, starting from 0, not 1. */
static uint32_t adler32_update(uint32_t adler, const uint8_t *p, size_t n)
{
	enum { BASE = 65521, NMAX = 5552 }; /* zlib: largest n with 255n(n+1)/2 + (n+1)(BASE-1) < 2^32 */
	uint32_t a = adler & 0xffff, b = adler >> 16;
	while (n) {
		size_t k = n < NMAX ? n : NMAX;
		n -= k;
		while (k--) {
			a += *p++;
			b += a;
		}
		a %= BASE;
		b %= BASE;
	}
	return b << 16 | a;
}

/* buf_calc_page_crc32: the header after the checksum up to the flush LSN, and the body. */
static uint32_t calc_page_crc32(const uint8_t *p, size_t size)
{
	return innodb_crc32c(0, p + INNODB_FIL_PAGE_OFFSET,
			     INNODB_FIL_PAGE_FILE_FLUSH_LSN_OR_KEY_VERSION - INNODB_FIL_PAGE_OFFSET) ^
	       innodb_crc32c(0, p + INNODB_FIL_PAGE_DATA, size - INNODB_FIL_PAGE_DATA - INNODB_FIL_PAGE_END_LSN_OLD_CHKSUM);
}

/* buf_calc_page_new_checksum */
static uint32_t calc_page_new_checksum(const uint8_t *p, size_t size)
{
	return fold_binary(p + INNODB_FIL_PAGE_OFFSET,
			   INNODB_FIL_PAGE_FILE_FLUSH_LSN_OR_KEY_VERSION - INNODB_FIL_PAGE_OFFSET) +
	       fold_binary(p + INNODB_FIL_PAGE_DATA, size - INNODB_FIL_PAGE_DATA - INNODB_FIL_PAGE_END_LSN_OLD_CHKSUM);
}

/* buf_calc_page_old_checksum */
static uint32_t calc_page_old_checksum(const uint8_t *p)
{
	return fold_binary(p, INNODB_FIL_PAGE_FILE_FLUSH_LSN_OR_KEY_VERSION);
}

/* page_zip_calc_checksum: page number, prev and next, type, and everything from the space id on. */
static uint32_t calc_zip_checksum(const uint8_t *p, size_t size, bool use_adler)
{
	if (use_adler) {
		uint32_t a = adler32_update(0, p + INNODB_FIL_PAGE_OFFSET, INNODB_FIL_PAGE_LSN - INNODB_FIL_PAGE_OFFSET);
		a = adler32_update(a, p + INNODB_FIL_PAGE_TYPE, 2);
		return adler32_update(a, p + INNODB_FIL_PAGE_SPACE_ID, size - INNODB_FIL_PAGE_SPACE_ID);
	}
	return innodb_crc32c(0, p + INNODB_FIL_PAGE_OFFSET, INNODB_FIL_PAGE_LSN - INNODB_FIL_PAGE_OFFSET) ^
	       innodb_crc32c(0, p + INNODB_FIL_PAGE_TYPE, 2) ^
	       innodb_crc32c(0, p + INNODB_FIL_PAGE_SPACE_ID, size - INNODB_FIL_PAGE_SPACE_ID);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- FSP flags --------------------------------------------------------------------------------- */

int innodb_flags_decode(uint32_t raw, struct innodb_flags *f)
{
	memset(f, 0, sizeof(*f));
	f->raw = raw;
	if (raw & INNODB_FSP_FLAGS_FCRC32_MASK_MARKER) {
		/* fil_space_t::is_valid_flags() for full_crc32: 8 bits, page size 4K..64K, known algorithm */
		uint32_t ssize = raw & ((1u << INNODB_FSP_FLAGS_FCRC32_WIDTH_PAGE_SSIZE) - 1);
		uint32_t algo = (raw >> INNODB_FSP_FLAGS_FCRC32_POS_COMPRESSED_ALGO) &
				((1u << INNODB_FSP_FLAGS_FCRC32_WIDTH_COMPRESSED_ALGO) - 1);
		if (raw >> INNODB_FSP_FLAGS_FCRC32_WIDTH || ssize < INNODB_PAGE_SSIZE_MIN || ssize > INNODB_PAGE_SSIZE_MAX ||
		    algo > INNODB_COMPRESSION_SNAPPY)
			return -EINVAL;
		f->full_crc32 = true;
		f->logical_size = (uint32_t)INNODB_SSIZE_UNIT << ssize;
		f->physical_size = f->logical_size;
		f->page_compressed = algo != 0;
		f->compression_algo = algo;
	} else {
		/* fsp_flags_is_valid(), accepting MySQL 5.7/8.0's bits 11-14 as well */
		uint32_t zssize = (raw >> INNODB_FSP_FLAGS_POS_ZIP_SSIZE) & ((1u << INNODB_FSP_FLAGS_WIDTH_ZIP_SSIZE) - 1);
		uint32_t ssize = (raw >> INNODB_FSP_FLAGS_POS_PAGE_SSIZE) & ((1u << INNODB_FSP_FLAGS_WIDTH_PAGE_SSIZE) - 1);
		f->post_antelope = raw >> INNODB_FSP_FLAGS_POS_POST_ANTELOPE & 1;
		f->atomic_blobs = raw >> INNODB_FSP_FLAGS_POS_ATOMIC_BLOBS & 1;
		f->data_dir = raw >> INNODB_FSP_FLAGS_POS_DATA_DIR & 1;
		f->mysql_shared = raw >> INNODB_FSP_FLAGS_POS_SHARED & 1;
		f->mysql_temporary = raw >> INNODB_FSP_FLAGS_POS_TEMPORARY & 1;
		f->mysql_encryption = raw >> INNODB_FSP_FLAGS_POS_ENCRYPTION & 1;
		f->mysql_sdi = raw >> INNODB_FSP_FLAGS_POS_SDI & 1;
		f->page_compressed = raw >> INNODB_FSP_FLAGS_POS_PAGE_COMPRESSION & 1;
		if (raw >> INNODB_FSP_FLAGS_WIDTH || raw >> INNODB_FSP_FLAGS_POS_MARIADB_101_MISPLACED & 1)
			return -EINVAL; /* unknown bits, or MariaDB 10.1.0-10.1.20's misplaced flags */
		if (f->atomic_blobs && !f->post_antelope)
			return -EINVAL;
		/* 16K is 0 in this layout, never INNODB_PAGE_SSIZE_ORIG */
		if ((ssize && ssize < INNODB_PAGE_SSIZE_MIN) || ssize == INNODB_PAGE_SSIZE_ORIG || ssize > INNODB_PAGE_SSIZE_MAX)
			return -EINVAL;
		f->logical_size = ssize ? (uint32_t)INNODB_SSIZE_UNIT << ssize : INNODB_PAGE_SIZE_DEFAULT;
		if (zssize) {
			if (zssize > (ssize ? ssize : INNODB_PAGE_SSIZE_ORIG) || !f->post_antelope || !f->atomic_blobs)
				return -EINVAL;
			f->zip_size = (uint32_t)INNODB_SSIZE_UNIT << zssize;
		}
		f->physical_size = f->zip_size ? f->zip_size : f->logical_size;
	}
	f->extent_pages = INNODB_EXTENT_PAGES(f->logical_size);
	return 0;
}

const char *innodb_compression_name(unsigned algo)
{
	static const char *const names[] = { "none", "zlib", "lz4", "lzo", "lzma", "bzip2", "snappy" };
	return algo < sizeof(names) / sizeof(names[0]) ? names[algo] : "unknown";
}

/* ---- Page 0 ------------------------------------------------------------------------------------ */

int innodb_space_decode(const uint8_t *page0, size_t len, struct innodb_space *sp)
{
	memset(sp, 0, sizeof(*sp));
	if (!page0 || len < INNODB_FLAGS_PREFIX_LEN)
		return -EINVAL;
	if (innodb_flags_decode(rd4(page0 + INNODB_FSP_HEADER_OFFSET + INNODB_FSP_SPACE_FLAGS), &sp->flags))
		return -EINVAL;
	sp->page0_space_id = rd4(page0 + INNODB_FIL_PAGE_SPACE_ID);
	sp->space_id = rd4(page0 + INNODB_FSP_HEADER_OFFSET + INNODB_FSP_SPACE_ID);
	sp->fsp_size = rd4(page0 + INNODB_FSP_HEADER_OFFSET + INNODB_FSP_SIZE);
	sp->free_limit = rd4(page0 + INNODB_FSP_HEADER_OFFSET + INNODB_FSP_FREE_LIMIT);
	if (len < sp->flags.physical_size)
		return 0;
	/* innochecksum's check_encryption(): magic, a known scheme, a 16-byte IV */
	size_t off = INNODB_CRYPT_OFFSET((size_t)sp->flags.physical_size, (size_t)sp->flags.extent_pages);
	if (off + INNODB_CRYPT_MAGIC_SIZE + INNODB_CRYPT_DATA_SIZE > sp->flags.physical_size ||
	    memcmp(page0 + off, INNODB_CRYPT_MAGIC, INNODB_CRYPT_MAGIC_SIZE))
		return 0;
	const uint8_t *c = page0 + off + INNODB_CRYPT_MAGIC_SIZE;
	if ((c[INNODB_CRYPT_TYPE] != INNODB_CRYPT_SCHEME_UNENCRYPTED && c[INNODB_CRYPT_TYPE] != INNODB_CRYPT_SCHEME_1) ||
	    c[INNODB_CRYPT_IV_LEN] != INNODB_CRYPT_SCHEME_1_IV_LEN)
		return 0;
	sp->has_crypt_data = true;
	sp->crypt_scheme = c[INNODB_CRYPT_TYPE];
	sp->encrypted = sp->crypt_scheme == INNODB_CRYPT_SCHEME_1;
	sp->crypt_min_key_version = rd4(c + INNODB_CRYPT_MIN_KEY_VERSION);
	sp->crypt_key_id = rd4(c + INNODB_CRYPT_KEY_ID);
	sp->crypt_mode = c[INNODB_CRYPT_ENCRYPTION];
	return 0;
}

/* ---- One page ---------------------------------------------------------------------------------- */

const char *innodb_page_class_name(enum innodb_page_class c)
{
	switch (c) {
	case INNODB_CLASS_INDEX: return "INDEX";
	case INNODB_CLASS_RTREE: return "RTREE";
	case INNODB_CLASS_INSTANT: return "INSTANT";
	case INNODB_CLASS_UNDO_LOG: return "UNDO_LOG";
	case INNODB_CLASS_INODE: return "INODE";
	case INNODB_CLASS_IBUF_FREE_LIST: return "IBUF_FREE_LIST";
	case INNODB_CLASS_IBUF_BITMAP: return "IBUF_BITMAP";
	case INNODB_CLASS_SYS: return "SYS";
	case INNODB_CLASS_TRX_SYS: return "TRX_SYS";
	case INNODB_CLASS_FSP_HDR: return "FSP_HDR";
	case INNODB_CLASS_XDES: return "XDES";
	case INNODB_CLASS_BLOB: return "BLOB";
	case INNODB_CLASS_ZBLOB: return "ZBLOB";
	case INNODB_CLASS_ZBLOB2: return "ZBLOB2";
	case INNODB_CLASS_SDI: return "SDI";
	case INNODB_CLASS_SDI_BLOB: return "SDI_BLOB";
	case INNODB_CLASS_COMPRESSED: return "COMPRESSED";
	case INNODB_CLASS_ENCRYPTED: return "ENCRYPTED";
	case INNODB_CLASS_COMPRESSED_ENCRYPTED: return "COMPRESSED_ENCRYPTED";
	case INNODB_CLASS_ENCRYPTED_RTREE: return "ENCRYPTED_RTREE";
	case INNODB_CLASS_PAGE_COMPRESSED: return "PAGE_COMPRESSED";
	case INNODB_CLASS_PAGE_COMPRESSED_ENCRYPTED: return "PAGE_COMPRESSED_ENCRYPTED";
	case INNODB_CLASS_ALLOCATED: return "ALLOCATED";
	case INNODB_CLASS_UNKNOWN: return "UNKNOWN";
	case INNODB_CLASS_OTHER: return "OTHER";
	case INNODB_CLASS_COUNT: break;
	}
	return "OTHER";
}

const char *innodb_checksum_algo_name(enum innodb_checksum_algo a)
{
	switch (a) {
	case INNODB_ALGO_NONE_MATCHED: return "mismatch";
	case INNODB_ALGO_CRC32: return "crc32";
	case INNODB_ALGO_FULL_CRC32: return "full_crc32";
	case INNODB_ALGO_INNODB: return "innodb";
	case INNODB_ALGO_NONE: return "none";
	case INNODB_ALGO_CRYPT: return "crc32 (post-encryption)";
	case INNODB_ALGO_ZERO: return "zero page";
	case INNODB_ALGO_NOT_APPLICABLE: return "n/a";
	}
	return "mismatch";
}

const char *innodb_bad_reason_name(enum innodb_bad_reason r)
{
	switch (r) {
	case INNODB_BAD_NONE: return "none";
	case INNODB_BAD_PAGE_NO: return "page number mismatch";
	case INNODB_BAD_SPACE_ID: return "space id mismatch";
	case INNODB_BAD_SIZE: return "invalid compressed size";
	case INNODB_BAD_CHECKSUM: return "checksum mismatch";
	case INNODB_BAD_LSN: return "LSN mismatch between header and trailer";
	}
	return "none";
}

static enum innodb_page_class classify(uint16_t type, const struct innodb_flags *f)
{
	switch (type) {
	case INNODB_PAGE_TYPE_INDEX: return INNODB_CLASS_INDEX;
	case INNODB_PAGE_TYPE_RTREE: return INNODB_CLASS_RTREE;
	case INNODB_PAGE_TYPE_INSTANT: return f->mysql_sdi ? INNODB_CLASS_SDI_BLOB : INNODB_CLASS_INSTANT;
	case INNODB_PAGE_TYPE_INSTANT + 1: return f->mysql_sdi ? INNODB_CLASS_SDI_BLOB : INNODB_CLASS_OTHER;
	case INNODB_PAGE_TYPE_UNDO_LOG: return INNODB_CLASS_UNDO_LOG;
	case INNODB_PAGE_TYPE_INODE: return INNODB_CLASS_INODE;
	case INNODB_PAGE_TYPE_IBUF_FREE_LIST: return INNODB_CLASS_IBUF_FREE_LIST;
	case INNODB_PAGE_TYPE_IBUF_BITMAP: return INNODB_CLASS_IBUF_BITMAP;
	case INNODB_PAGE_TYPE_SYS: return INNODB_CLASS_SYS;
	case INNODB_PAGE_TYPE_TRX_SYS: return INNODB_CLASS_TRX_SYS;
	case INNODB_PAGE_TYPE_FSP_HDR: return INNODB_CLASS_FSP_HDR;
	case INNODB_PAGE_TYPE_XDES: return INNODB_CLASS_XDES;
	case INNODB_PAGE_TYPE_BLOB: return INNODB_CLASS_BLOB;
	case INNODB_PAGE_TYPE_ZBLOB: return INNODB_CLASS_ZBLOB;
	case INNODB_PAGE_TYPE_ZBLOB2: return INNODB_CLASS_ZBLOB2;
	case INNODB_PAGE_TYPE_UNKNOWN: return INNODB_CLASS_UNKNOWN;
	case INNODB_PAGE_TYPE_COMPRESSED: return INNODB_CLASS_COMPRESSED;
	case INNODB_PAGE_TYPE_ENCRYPTED: return INNODB_CLASS_ENCRYPTED;
	case INNODB_PAGE_TYPE_COMPRESSED_AND_ENCRYPTED: return INNODB_CLASS_COMPRESSED_ENCRYPTED;
	case INNODB_PAGE_TYPE_ENCRYPTED_RTREE: return INNODB_CLASS_ENCRYPTED_RTREE;
	case INNODB_PAGE_TYPE_SDI: return INNODB_CLASS_SDI;
	case INNODB_PAGE_TYPE_PAGE_COMPRESSED: return INNODB_CLASS_PAGE_COMPRESSED;
	case INNODB_PAGE_TYPE_PAGE_COMPRESSED_ENCRYPTED: return INNODB_CLASS_PAGE_COMPRESSED_ENCRYPTED;
	case INNODB_PAGE_TYPE_ALLOCATED: return INNODB_CLASS_ALLOCATED;
	default: return INNODB_CLASS_OTHER;
	}
}

/* Which legacy algorithm an older-format page's fields match, for the report only: innochecksum
 * 10.6+ accepts crc32 alone, the server (innodb_checksum_algorithm not strict_*) these as well. */
static enum innodb_checksum_algo legacy_match(struct innodb_page *pg, const uint8_t *p, size_t size)
{
	if (pg->stored_checksum == INNODB_BUF_NO_CHECKSUM_MAGIC && pg->stored_checksum2 == INNODB_BUF_NO_CHECKSUM_MAGIC)
		return INNODB_ALGO_NONE;
	pg->calc_innodb = calc_page_new_checksum(p, size);
	pg->calc_innodb_old = calc_page_old_checksum(p);
	bool f2 = pg->stored_checksum2 == pg->calc_innodb_old ||
		  pg->stored_checksum2 == rd4(p + INNODB_FIL_PAGE_LSN) /* very old InnoDB: LSN high half */;
	bool f1 = pg->stored_checksum == pg->calc_innodb;
	return f1 && f2 ? INNODB_ALGO_INNODB : INNODB_ALGO_NONE_MATCHED;
}

static void set_bad(struct innodb_page *pg, enum innodb_bad_reason r)
{
	pg->verdict = INNODB_VERDICT_INVALID;
	pg->reason = r;
}

/* buf_page_is_corrupted(), built as innochecksum builds it, for a full_crc32 space. */
static void check_full_crc32(struct innodb_page *pg, const uint8_t *p, const struct innodb_flags *f)
{
	uint32_t size = f->logical_size;
	bool compressed = false;
	if (pg->type & INNODB_PAGE_TYPE_FCRC32_COMPRESSED) {
		uint32_t t = (uint32_t)(pg->type & ~INNODB_PAGE_TYPE_FCRC32_COMPRESSED) << INNODB_FCRC32_COMPRESSED_SIZE_SHIFT;
		/* InnoDB would read before the page for a size below 4; call anything short of a
		 * header and a checksum corrupt */
		if (t >= size || t < INNODB_FIL_PAGE_DATA + INNODB_FIL_PAGE_FCRC32_CHECKSUM) {
			set_bad(pg, INNODB_BAD_SIZE);
			return;
		}
		size = t;
		compressed = true;
	}
	pg->stored_size = size;
	pg->stored_checksum = rd4(p + size - INNODB_FIL_PAGE_FCRC32_CHECKSUM);
	if (!compressed)
		pg->trailer_lsn = rd4(p + size - INNODB_FIL_PAGE_FCRC32_END_LSN);
	if (!pg->stored_checksum && !compressed && pg->all_zero) {
		pg->matched = INNODB_ALGO_ZERO;
		pg->verdict = INNODB_VERDICT_ZERO;
		return;
	}
	pg->calc_full_crc32 = innodb_crc32c(0, p, size - INNODB_FIL_PAGE_FCRC32_CHECKSUM);
	if (pg->stored_checksum != pg->calc_full_crc32) {
		set_bad(pg, INNODB_BAD_CHECKSUM);
		return;
	}
	pg->matched = INNODB_ALGO_FULL_CRC32;
	if (!compressed && !rd4(p + INNODB_FIL_PAGE_FCRC32_KEY_VERSION) &&
	    rd4(p + INNODB_FIL_PAGE_LSN + 4) != pg->trailer_lsn) {
		set_bad(pg, INNODB_BAD_LSN);
		return;
	}
	pg->verdict = INNODB_VERDICT_VALID;
}

/* buf_page_is_corrupted(), built as innochecksum builds it, for the older format. */
static void check_old(struct innodb_page *pg, const uint8_t *p, const struct innodb_flags *f)
{
	size_t size = f->logical_size; /* srv_page_size */
	if (pg->type == INNODB_PAGE_TYPE_PAGE_COMPRESSED || pg->type == INNODB_PAGE_TYPE_PAGE_COMPRESSED_ENCRYPTED) {
		pg->matched = INNODB_ALGO_NOT_APPLICABLE;
		pg->verdict = INNODB_VERDICT_NOT_CHECKED;
		return;
	}
	if (!f->zip_size && rd4(p + INNODB_FIL_PAGE_LSN + 4) != pg->trailer_lsn) {
		set_bad(pg, INNODB_BAD_LSN);
		return;
	}
	if (f->zip_size) {
		/* page_zip_verify_checksum() */
		if (!pg->stored_checksum && !rd8(p + INNODB_FIL_PAGE_LSN)) {
			if (pg->all_zero) {
				pg->matched = INNODB_ALGO_ZERO;
				pg->verdict = INNODB_VERDICT_ZERO;
			} else {
				set_bad(pg, INNODB_BAD_CHECKSUM);
			}
			return;
		}
		if (pg->stored_checksum == pg->calc_crc32) {
			pg->matched = INNODB_ALGO_CRC32;
			pg->verdict = INNODB_VERDICT_VALID;
			return;
		}
		pg->calc_innodb = calc_zip_checksum(p, f->zip_size, true);
		pg->matched = pg->stored_checksum == pg->calc_innodb ? INNODB_ALGO_INNODB
			      : pg->stored_checksum == INNODB_BUF_NO_CHECKSUM_MAGIC ? INNODB_ALGO_NONE
										 : INNODB_ALGO_NONE_MATCHED;
		set_bad(pg, INNODB_BAD_CHECKSUM);
		return;
	}
	if (!pg->stored_checksum && !pg->stored_checksum2 && pg->all_zero) {
		pg->matched = INNODB_ALGO_ZERO;
		pg->verdict = INNODB_VERDICT_ZERO;
		return;
	}
	if (pg->stored_checksum == pg->stored_checksum2 && pg->stored_checksum == pg->calc_crc32) {
		pg->matched = INNODB_ALGO_CRC32;
		pg->verdict = INNODB_VERDICT_VALID;
		return;
	}
	pg->matched = legacy_match(pg, p, size);
	set_bad(pg, INNODB_BAD_CHECKSUM);
}

int innodb_page_decode(const uint8_t *p, size_t len, const struct innodb_space *sp, uint32_t position,
		       struct innodb_page *pg)
{
	const struct innodb_flags *f = &sp->flags;
	memset(pg, 0, sizeof(*pg));
	if (!p || !f->physical_size || len != f->physical_size)
		return -EINVAL;
	pg->position = position;
	pg->page_no = rd4(p + INNODB_FIL_PAGE_OFFSET);
	pg->prev = rd4(p + INNODB_FIL_PAGE_PREV);
	pg->next = rd4(p + INNODB_FIL_PAGE_NEXT);
	pg->lsn = rd8(p + INNODB_FIL_PAGE_LSN);
	pg->type = rd2(p + INNODB_FIL_PAGE_TYPE);
	pg->flush_lsn = rd8(p + INNODB_FIL_PAGE_FILE_FLUSH_LSN_OR_KEY_VERSION);
	pg->space_id = rd4(p + INNODB_FIL_PAGE_SPACE_ID);
	pg->all_zero = all_zero(p, len);
	pg->stored_size = f->physical_size;
	/* buf_page_get_key_version() */
	pg->key_version = f->full_crc32 ? rd4(p + INNODB_FIL_PAGE_FCRC32_KEY_VERSION)
					: rd4(p + INNODB_FIL_PAGE_FILE_FLUSH_LSN_OR_KEY_VERSION);
	pg->encrypted = sp->encrypted && pg->key_version && position != 0; /* page 0 is never encrypted */

	/* The older format's page_compressed types have bit 15 set too, but a size no page has: a
	 * full_crc32 space holds them only as doublewrite copies in ibdata1, and innochecksum counts
	 * them by their type */
	bool old_compressed_type = pg->type == INNODB_PAGE_TYPE_PAGE_COMPRESSED ||
				   pg->type == INNODB_PAGE_TYPE_PAGE_COMPRESSED_ENCRYPTED;
	if (f->full_crc32 && (pg->type & INNODB_PAGE_TYPE_FCRC32_COMPRESSED) && !old_compressed_type) {
		pg->compressed = true;
		pg->cls = pg->encrypted ? INNODB_CLASS_PAGE_COMPRESSED_ENCRYPTED : INNODB_CLASS_PAGE_COMPRESSED;
		pg->comp_payload = (uint32_t)(pg->type & ~INNODB_PAGE_TYPE_FCRC32_COMPRESSED) << INNODB_FCRC32_COMPRESSED_SIZE_SHIFT;
		pg->comp_algo = f->compression_algo;
	} else {
		pg->cls = classify(pg->type, f);
		if (pg->type == INNODB_PAGE_TYPE_PAGE_COMPRESSED) {
			pg->compressed = true;
			pg->comp_payload = rd2(p + INNODB_FIL_PAGE_DATA + INNODB_FIL_PAGE_COMP_SIZE);
			uint64_t algo = rd8(p + INNODB_FIL_PAGE_COMP_ALGO);
			pg->comp_algo = algo <= INNODB_COMPRESSION_SNAPPY ? (unsigned)algo : INNODB_COMPRESSION_UNKNOWN;
		} else if (pg->type == INNODB_PAGE_TYPE_PAGE_COMPRESSED_ENCRYPTED) {
			pg->compressed = true;
			pg->comp_payload = rd2(p + INNODB_FIL_PAGE_DATA + INNODB_FIL_PAGE_COMP_SIZE);
			pg->comp_algo = rd2(p + INNODB_FIL_PAGE_DATA + INNODB_FIL_PAGE_ENCRYPT_COMP_ALGO);
		}
	}

	if ((pg->cls == INNODB_CLASS_INDEX || pg->cls == INNODB_CLASS_RTREE || pg->cls == INNODB_CLASS_INSTANT) &&
	    !pg->encrypted && !pg->all_zero) {
		const uint8_t *h = p + INNODB_PAGE_HEADER;
		struct innodb_index_header *ix = &pg->index;
		pg->has_index = true;
		ix->n_dir_slots = rd2(h + INNODB_PAGE_N_DIR_SLOTS);
		ix->heap_top = rd2(h + INNODB_PAGE_HEAP_TOP);
		ix->n_heap = rd2(h + INNODB_PAGE_N_HEAP) & (uint16_t)~INNODB_PAGE_N_HEAP_COMPACT;
		ix->compact = rd2(h + INNODB_PAGE_N_HEAP) & INNODB_PAGE_N_HEAP_COMPACT;
		ix->free = rd2(h + INNODB_PAGE_FREE);
		ix->garbage = rd2(h + INNODB_PAGE_GARBAGE);
		ix->last_insert = rd2(h + INNODB_PAGE_LAST_INSERT);
		ix->direction = h[INNODB_PAGE_DIRECTION_B] & INNODB_PAGE_DIRECTION_MASK;
		ix->n_direction = rd2(h + INNODB_PAGE_N_DIRECTION);
		ix->n_recs = rd2(h + INNODB_PAGE_N_RECS);
		ix->max_trx_id = rd8(h + INNODB_PAGE_MAX_TRX_ID);
		ix->level = rd2(h + INNODB_PAGE_LEVEL);
		ix->index_id = rd8(h + INNODB_PAGE_INDEX_ID);
	}

	/* Stored fields and the computed checksum of the space's format */
	if (!f->full_crc32) {
		pg->stored_checksum = rd4(p + INNODB_FIL_PAGE_SPACE_OR_CHKSUM);
		if (!f->zip_size) {
			pg->stored_checksum2 = rd4(p + f->logical_size - INNODB_FIL_PAGE_END_LSN_OLD_CHKSUM);
			pg->trailer_lsn = rd4(p + f->logical_size - INNODB_FIL_PAGE_END_LSN_OLD_CHKSUM + 4);
			pg->calc_crc32 = calc_page_crc32(p, f->logical_size);
		} else {
			pg->calc_crc32 = calc_zip_checksum(p, f->zip_size, false);
		}
		if (pg->key_version)
			pg->stored_crypt_checksum = rd4(p + INNODB_FIL_PAGE_CRYPT_CHECKSUM);
	}

	/* innochecksum: page_compressed pages carry no checksum it can verify; it skips them (not
	 * page 0, which it verifies before its loop) */
	if (position != 0 && old_compressed_type) {
		pg->matched = INNODB_ALGO_NOT_APPLICABLE;
		pg->verdict = INNODB_VERDICT_NOT_CHECKED;
		return 0;
	}

	/* is_page_corrupted(): the page must say where it is (full_crc32 encrypts or compresses the
	 * space id, so only the page number counts there) */
	bool fcrc32_hidden_space_id = f->full_crc32 && (sp->encrypted || f->page_compressed);
	if (pg->page_no != position || (pg->space_id != sp->page0_space_id && !fcrc32_hidden_space_id)) {
		if (pg->all_zero) {
			pg->matched = INNODB_ALGO_ZERO;
			pg->verdict = INNODB_VERDICT_ZERO;
		} else {
			set_bad(pg, pg->page_no != position ? INNODB_BAD_PAGE_NO : INNODB_BAD_SPACE_ID);
		}
		return 0;
	}
	if (f->page_compressed && (pg->type == INNODB_PAGE_TYPE_PAGE_COMPRESSED ||
				   (pg->type == INNODB_PAGE_TYPE_PAGE_COMPRESSED_ENCRYPTED && sp->encrypted))) {
		pg->matched = INNODB_ALGO_NOT_APPLICABLE;
		pg->verdict = INNODB_VERDICT_NOT_CHECKED;
		return 0;
	}
	/* fil_space_verify_crypt_checksum(): an encrypted page of the older format passes on its
	 * post-encryption checksum; failing that, it gets the plain checks below. full_crc32 pages
	 * have one checksum, over the encrypted bytes. */
	if (sp->encrypted && pg->key_version && !f->full_crc32) {
		if (pg->type == INNODB_PAGE_TYPE_PAGE_COMPRESSED_ENCRYPTED) {
			pg->matched = INNODB_ALGO_NOT_APPLICABLE;
			pg->verdict = INNODB_VERDICT_VALID;
			return 0;
		}
		if (pg->stored_crypt_checksum == pg->calc_crc32) {
			pg->matched = INNODB_ALGO_CRYPT;
			pg->verdict = INNODB_VERDICT_VALID;
			return 0;
		}
	}
	if (f->full_crc32)
		check_full_crc32(pg, p, f);
	else
		check_old(pg, p, f);
	return 0;
}

/* ---- Extent descriptors ------------------------------------------------------------------------ */

bool innodb_xdes_page_free(const uint8_t *xdes, size_t len, const struct innodb_flags *f, uint32_t page_no)
{
	if (!xdes || !f->physical_size || !f->extent_pages)
		return false;
	size_t xsize = INNODB_XDES_SIZE((size_t)f->extent_pages);
	size_t desc = INNODB_XDES_ARR_OFFSET + xsize * ((page_no & (f->physical_size - 1)) / f->extent_pages);
	size_t bit = INNODB_XDES_FREE_BIT + (size_t)INNODB_XDES_BITS_PER_PAGE * (page_no % f->extent_pages);
	size_t at = desc + INNODB_XDES_BITMAP + bit / 8;
	if (at >= len)
		return false;
	return xdes[at] >> (bit & 7) & 1;
}

bool innodb_is_doublewrite_page(const struct innodb_space *sp, uint32_t position)
{
	/* the second and third extents of space 0 (innochecksum's is_page_doublewritebuffer()) */
	enum { DOUBLEWRITE_FIRST_EXTENT = 1, DOUBLEWRITE_EXTENTS = 2 }; /* TRX_SYS_DOUBLEWRITE_BLOCKS */
	return sp->page0_space_id == 0 && position >= DOUBLEWRITE_FIRST_EXTENT * sp->flags.extent_pages &&
	       position < (DOUBLEWRITE_FIRST_EXTENT + DOUBLEWRITE_EXTENTS) * sp->flags.extent_pages;
}

void innodb_page_compute_all(const uint8_t *p, size_t len, const struct innodb_space *sp, struct innodb_page *pg)
{
	const struct innodb_flags *f = &sp->flags;
	if (!p || !f->physical_size || len != f->physical_size)
		return;
	if (f->full_crc32) {
		size_t size = pg->stored_size >= INNODB_FIL_PAGE_DATA + INNODB_FIL_PAGE_FCRC32_CHECKSUM &&
				      pg->stored_size <= len ? pg->stored_size : len;
		pg->calc_full_crc32 = innodb_crc32c(0, p, size - INNODB_FIL_PAGE_FCRC32_CHECKSUM);
	} else if (f->zip_size) {
		pg->calc_crc32 = calc_zip_checksum(p, f->zip_size, false);
		pg->calc_innodb = calc_zip_checksum(p, f->zip_size, true);
	} else {
		pg->calc_crc32 = calc_page_crc32(p, f->logical_size);
		pg->calc_innodb = calc_page_new_checksum(p, f->logical_size);
		pg->calc_innodb_old = calc_page_old_checksum(p);
	}
}
