#!/bin/sh
# deps.sh: installs the Debian 12 packages clonefs needs to build and test, only those missing
# (`make deps`, run by `make test`). Needs root when something is missing.
set -eu
PKGS="build-essential pkg-config libfuse3-dev fuse3 default-libmysqlclient-dev libssl-dev libzstd-dev
      mariadb-server mariadb-backup mariadb-client sysbench btrfs-progs socat openssl python3
      clang libclang-rt-14-dev procps psmisc util-linux iproute2 e2fsprogs xxhash xfsprogs
      libsystemd-dev systemd debhelper dpkg-dev fakeroot lintian python3-prometheus-client libjansson-dev
      libcurl4-openssl-dev ceph-mon ceph-osd radosgw ceph-common rclone"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "clonefs needs these Debian packages; as root run: apt-get install$missing" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	apt-get update -qq
	# The server package must not start a system MariaDB: tests start their own.
	[ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# A system MariaDB started by the package would hold the default socket: stop it if it runs.
if pidof mariadbd >/dev/null 2>&1 && [ -S /run/mysqld/mysqld.sock ] && [ "$(id -u)" = 0 ]; then
	(service mariadb stop || mariadb-admin -S /run/mysqld/mysqld.sock shutdown) >/dev/null 2>&1 || true
fi
[ -e /dev/fuse ] || { modprobe fuse 2>/dev/null || echo "deps: warning: /dev/fuse is missing; FUSE tests will fail" >&2; }
exit 0
