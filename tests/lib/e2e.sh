# e2e.sh: the one file an end-to-end test, the demo and the bench source: common, MariaDB, TLS and
# clonefs helpers.
_cfs_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_cfs_lib/common.sh"
. "$_cfs_lib/mariadb.sh"
. "$_cfs_lib/tls.sh"
. "$_cfs_lib/clonefs.sh"
