/* status_cmd.c: clonefs status MOUNTPOINT [--json]: prints the mount's /.clonefs/status, as JSON or
 * as a few human lines with a progress bar; --clone: the last clonefs clone's stages. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/ctl.h"
#include "tools/human.h"
#include "tools/clone_progress.h"
#include "tools/commands.h"
#include "tools/mountinfo.h"
#include "transport/path.h"

int cmd_status(int argc, char **argv)
{
	const char *mount = NULL;
	bool json = false, clone = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: clonefs status MOUNTPOINT [--json]   a mount's snapshot, donor, hydration, binlog position\n"
			       "       clonefs status --clone [--json]      the stages of the last clonefs clone on this host\n");
			return 0;
		} else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--clone"))
			clone = true;
		else if (argv[i][0] != '-' && !mount)
			mount = argv[i];
		else {
			fprintf(stderr, "ERROR %d (HY000): usage: clonefs status MOUNTPOINT [--json]\n", CFS_ER_USAGE);
			return 2;
		}
	}
	if (clone)
		return clone_progress_show(json);
	if (!mount) {
		fprintf(stderr, "ERROR %d (HY000): usage: clonefs status MOUNTPOINT [--json] | --clone [--json]\n", CFS_ER_USAGE);
		return 2;
	}
	char path[PATH_MAX], missing[PATH_MAX + 64];
	if (path_fmt(path, sizeof(path), "%s" CTL_STATUS_PATH, mount)) {
		fprintf(stderr, "ERROR %d (HY000): '%s': path too long\n", CFS_ER_MOUNT, mount);
		return 1;
	}
	snprintf(missing, sizeof(missing), "'%s' is not a clonefs mount (no " CTL_DIR_NAME "/" CTL_STATUS ")", mount);
	int rc;
	json_t *doc = mountinfo_show_json(path, json, CFS_ER_MOUNT, missing, &rc);
	if (!doc)
		return rc;
	status_cmd_print(doc, stdout);
	json_decref(doc);
	return 0;
}

void status_cmd_print(const json_t *doc, FILE *out)
{
	char id[80], state[32], ver[128], host[256], port[16], bf[128], bp[32], gtid[512], tls[96], err[600];
	char evicted[32];
	json_get_text(doc, NULL, CTL_ST_SNAPSHOT_ID, id, sizeof(id));
	json_get_text(doc, NULL, CTL_ST_STATE, state, sizeof(state));
	json_get_text(doc, CTL_ST_DONOR, CTL_ST_DONOR_VERSION, ver, sizeof(ver));
	json_get_text(doc, CTL_ST_DONOR, CTL_ST_DONOR_HOST, host, sizeof(host));
	json_get_text(doc, CTL_ST_DONOR, CTL_ST_DONOR_PORT, port, sizeof(port));
	json_get_text(doc, NULL, CTL_ST_BINLOG_FILE, bf, sizeof(bf));
	json_get_text(doc, NULL, CTL_ST_BINLOG_POS, bp, sizeof(bp));
	json_get_text(doc, NULL, CTL_ST_GTID_POS, gtid, sizeof(gtid));
	json_get_text(doc, NULL, CTL_ST_TLS, tls, sizeof(tls));
	json_get_text(doc, NULL, CTL_ST_LAST_ERROR, err, sizeof(err));
	json_get_text(doc, NULL, CTL_ST_CHUNKS_EVICTED, evicted, sizeof(evicted));
	double t = json_get_num(doc, NULL, CTL_ST_BYTES_TOTAL), c = json_get_num(doc, NULL, CTL_ST_BYTES_CACHED);
	double fetched = json_get_num(doc, NULL, CTL_ST_BYTES_FETCHED), rate = json_get_num(doc, NULL, CTL_ST_RATE);
	double eta = json_get_num(doc, NULL, CTL_ST_ETA), wire = json_get_num(doc, NULL, CTL_ST_BYTES_WIRE);
	double cmax = json_get_num(doc, NULL, CTL_ST_CACHE_MAX);
	int pct = t > 0 && c >= 0 ? (c >= t ? 100 : (int)(c * 100 / t)) : 100;
	char ht[32], hc[32], hf[32], hr[32];
	human_bytes(human_u64(t), ht, sizeof(ht));
	human_bytes(human_u64(c), hc, sizeof(hc));
	human_bytes(human_u64(fetched), hf, sizeof(hf));
	human_bytes(human_u64(rate), hr, sizeof(hr));
	if (!strcmp(port, "0")) /* a store mount: its host is the s3:// URL, there is no donor port */
		fprintf(out, "snapshot   %s of %s (%s)\n", id, host, ver);
	else
		fprintf(out, "snapshot   %s of %s:%s (%s)\n", id, host, port, ver);
	fprintf(out, "state      %s  [%.*s%*s] %d%%  %s of %s cached\n", state, pct / 5, "####################",
		20 - pct / 5, "", pct, hc, ht);
	fprintf(out, "fetched    %s at %s/s", hf, hr);
	if (wire > 0 && fetched > 0) /* what crossed the network: less when the donor compressed */
		fprintf(out, " (%.0f%% of it on the wire)", 100 * wire / fetched);
	if (eta > 0 && pct < 100)
		fprintf(out, ", ETA %.0f s", eta);
	fprintf(out, "\n");
	if (cmax > 0) { /* a bounded mount (cache_max=): absent from older mounts' status */
		char hm[32];
		human_bytes(human_u64(cmax), hm, sizeof(hm));
		fprintf(out, "cache      at most %s, %s chunks evicted\n", hm, evicted);
	}
	char upper[4200];
	json_get_text(doc, NULL, CTL_ST_UPPER, upper, sizeof(upper));
	if (upper[0]) { /* a thin clone (rw,upper=): its own writes */
		char hw[32];
		human_bytes(human_u64(json_get_num(doc, NULL, CTL_ST_BYTES_WRITTEN)), hw, sizeof(hw));
		fprintf(out, "upper      %s, %s written by the clone\n", upper, hw);
	}
	fprintf(out, "binlog     %s:%s  gtid %s\n", bf, bp, gtid);
	fprintf(out, "tls        %s\n", tls);
	if (err[0])
		fprintf(out, "last error %s\n", err);
}
