/* status_cmd.c: clonefs status MOUNTPOINT [--json]: prints the mount's /.clonefs/status, as JSON or
 * as a few human lines with a progress bar; --clone: the last clonefs clone's stages. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/human.h"
#include "tools/clone_progress.h"
#include "tools/commands.h"
#include "tools/mountinfo.h"

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
	char path[4200];
	snprintf(path, sizeof(path), "%s/.clonefs/status", mount);
	char missing[4400];
	snprintf(missing, sizeof(missing), "'%s' is not a clonefs mount (no .clonefs/status)", mount);
	int rc;
	char *doc = mountinfo_show_json(path, json, CFS_ER_MOUNT, missing, &rc);
	if (!doc)
		return rc;
	char id[80], state[32], ver[128], host[256], port[16], total[32], cached[32], fetched[32], rate[32], eta[32];
	char bf[128], bp[32], gtid[512], tls[96], err[600], cmax[32], evicted[32], wire[32];
	mountinfo_json_field(doc, "snapshot_id", id, sizeof(id));
	mountinfo_json_field(doc, "state", state, sizeof(state));
	mountinfo_json_field(doc, "version", ver, sizeof(ver));
	mountinfo_json_field(doc, "host", host, sizeof(host));
	mountinfo_json_field(doc, "port", port, sizeof(port));
	mountinfo_json_field(doc, "bytes_total", total, sizeof(total));
	mountinfo_json_field(doc, "bytes_cached", cached, sizeof(cached));
	mountinfo_json_field(doc, "bytes_fetched", fetched, sizeof(fetched));
	mountinfo_json_field(doc, "rate_bytes_per_s", rate, sizeof(rate));
	mountinfo_json_field(doc, "eta_s", eta, sizeof(eta));
	mountinfo_json_field(doc, "binlog_file", bf, sizeof(bf));
	mountinfo_json_field(doc, "binlog_pos", bp, sizeof(bp));
	mountinfo_json_field(doc, "gtid_pos", gtid, sizeof(gtid));
	mountinfo_json_field(doc, "tls", tls, sizeof(tls));
	mountinfo_json_field(doc, "last_error", err, sizeof(err));
	mountinfo_json_field(doc, "cache_max", cmax, sizeof(cmax));
	mountinfo_json_field(doc, "chunks_evicted", evicted, sizeof(evicted));
	mountinfo_json_field(doc, "bytes_wire", wire, sizeof(wire));
	double t = strtod(total, NULL), c = strtod(cached, NULL);
	int pct = t > 0 ? (int)(c * 100 / t) : 100;
	char ht[32], hc[32], hf[32], hr[32];
	human_bytes((uint64_t)t, ht, sizeof(ht));
	human_bytes((uint64_t)c, hc, sizeof(hc));
	human_bytes((uint64_t)strtod(fetched, NULL), hf, sizeof(hf));
	human_bytes((uint64_t)strtod(rate, NULL), hr, sizeof(hr));
	printf("snapshot   %s of %s:%s (%s)\n", id, host, port, ver);
	printf("state      %s  [%.*s%*s] %d%%  %s of %s cached\n", state, pct / 5, "####################",
	       20 - pct / 5, "", pct, hc, ht);
	printf("fetched    %s at %s/s", hf, hr);
	if (strtod(wire, NULL) > 0) /* what crossed the network: less when the donor compressed */
		printf(" (%.0f%% of it on the wire)", 100 * strtod(wire, NULL) / strtod(fetched, NULL));
	if (strtod(eta, NULL) > 0 && pct < 100)
		printf(", ETA %.0f s", strtod(eta, NULL));
	printf("\n");
	if (strtod(cmax, NULL) > 0) { /* a bounded mount (cache_max=): absent from older mounts' status */
		char hm[32];
		human_bytes((uint64_t)strtod(cmax, NULL), hm, sizeof(hm));
		printf("cache      at most %s, %s chunks evicted\n", hm, evicted);
	}
	char upper[4200], written[32];
	mountinfo_json_field(doc, "upper", upper, sizeof(upper));
	mountinfo_json_field(doc, "bytes_written", written, sizeof(written));
	if (upper[0]) { /* a thin clone (rw,upper=): its own writes */
		char hw[32];
		human_bytes((uint64_t)strtod(written, NULL), hw, sizeof(hw));
		printf("upper      %s, %s written by the clone\n", upper, hw);
	}
	printf("binlog     %s:%s  gtid %s\n", bf, bp, gtid);
	printf("tls        %s\n", tls);
	if (err[0])
		printf("last error %s\n", err);
	free(doc);
	return 0;
}
