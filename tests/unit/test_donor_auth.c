/* test_donor_auth.c: how clonefsd names a recipient to its server: the PROXY protocol line built
 * from a real loopback connection (IPv4 from a second loopback address), and the host-pattern match
 * that stands in for the server's when skip_name_resolve leaves a proxied socket login 'localhost'. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/tap.h"
#include "transport/donor/donor.h"

/* Defined by clonefsd's main, which the library leaves out. */
struct donor_config donor_cfg;

static void proxy_line_names_the_recipient(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET }, src = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
	CHECK(l >= 0 && c >= 0);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 1) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);
	CHECK(bind(c, (struct sockaddr *)&src, sizeof(src)) == 0);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof(a)) == 0);
	struct sockaddr_in cs;
	socklen_t csl = sizeof(cs);
	CHECK(getsockname(c, (struct sockaddr *)&cs, &csl) == 0);
	int s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	struct donor_peer p;
	char want[160];
	donor_cfg.proxy_protocol = true;
	CHECK(donor_peer_of(s, &p) == 0);
	CHECK(!strcmp(p.ip, "127.0.0.2"));
	snprintf(want, sizeof(want), "PROXY TCP4 127.0.0.2 127.0.0.1 %u %u\r\n", ntohs(cs.sin_port), ntohs(a.sin_port));
	CHECK(!strcmp(p.proxy, want));
	donor_cfg.proxy_protocol = false;
	CHECK(donor_peer_of(s, &p) == 0 && !strcmp(p.ip, "127.0.0.2") && p.proxy[0] == 0);
	CHECK(donor_peer_of(-1, &p) < 0);
	close(s);
	close(c);
	close(l);
}

static void host_patterns_match_as_the_server_does(void)
{
	CHECK(donor_host_matches("%", "10.1.2.3"));
	CHECK(donor_host_matches("", "10.1.2.3"));
	CHECK(donor_host_matches("10.%", "10.1.2.3"));
	CHECK(!donor_host_matches("10.%", "110.1.2.3"));
	CHECK(donor_host_matches("127.0.0._", "127.0.0.2"));
	CHECK(!donor_host_matches("127.0.0._", "127.0.0.20"));
	CHECK(donor_host_matches("127.0.0.2", "127.0.0.2"));
	CHECK(!donor_host_matches("localhost", "127.0.0.1"));
	CHECK(!donor_host_matches("local%", "127.0.0.1"));
	CHECK(donor_host_matches("10\\.1.2.3", "10.1.2.3"));
	CHECK(!donor_host_matches("10\\%", "10.1.2.3"));
	CHECK(donor_host_matches("%.2.%", "10.1.2.3"));
	CHECK(donor_host_matches("10.0.0.0/255.0.0.0", "10.9.8.7"));
	CHECK(!donor_host_matches("10.0.0.0/255.0.0.0", "11.9.8.7"));
	CHECK(donor_host_matches("192.168.4.0/22", "192.168.7.255"));
	CHECK(!donor_host_matches("192.168.4.0/22", "192.168.8.1"));
	CHECK(!donor_host_matches("10.0.0.0/33", "10.0.0.1"));
	CHECK(!donor_host_matches("10.0.0.0/255.0.0.0", "::1"));
	CHECK(donor_host_matches("::1", "::1"));
}

static void dropped_entries_leave_the_manifest(void)
{
	struct manifest m;
	manifest_init(&m);
	CHECK(manifest_add(&m, MANIFEST_DIR, "db", NULL, 0755, 0, 0, 0) == 0);
	CHECK(manifest_add(&m, MANIFEST_REG, "db/a.frm", NULL, 0640, 10, 0, 0) == 0);
	CHECK(manifest_add(&m, MANIFEST_REG, "db/b.frm", NULL, 0640, 7, 0, 0) == 0);
	manifest_drop(&m, "db/a.frm");
	manifest_drop(&m, "db/none");
	CHECK(m.n == 2 && m.bytes_total == 7 && !strcmp(m.e[1].path, "db/b.frm"));
	manifest_release(&m);
}

int main(void)
{
	proxy_line_names_the_recipient();
	host_patterns_match_as_the_server_does();
	dropped_entries_leave_the_manifest();
	return tap_done();
}
