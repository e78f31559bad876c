/* fuzz_frame.c: libFuzzer target for the frame header and every message decoder. */
#include <stdint.h>
#include <stdlib.h>

#include "transport/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfs_err err;
	struct wire_hdr h;
	if (size >= WIRE_HDR_LEN)
		wire_hdr_decode(data, WIRE_FRAME_MAX, &h, &err);
	if (size < 1)
		return 0;
	/* First byte picks the message; the rest is its payload. */
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] % 7) {
	case 0: { struct wire_hello m; wire_hello_decode(p, n, &m, &err); break; }
	case 1: { static struct wire_hello_ok m; wire_hello_ok_decode(p, n, &m, &err); break; }
	case 2: { static struct wire_auth m; wire_auth_decode(p, n, &m, &err); break; }
	case 3: { struct wire_snap_open m; wire_snap_open_decode(p, n, &m, &err); break; }
	case 4: {
		static struct wire_snap_info m;
		if (wire_snap_info_decode(p, n, &m, &err) == 0)
			wire_snap_info_release(&m);
		break;
	}
	case 5: { struct wire_read m; wire_read_decode(p, n, &m, &err); break; }
	default: { struct cfs_err m; wire_error_decode(p, n, &m, &err); break; }
	}
	return 0;
}
