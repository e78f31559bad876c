#!/usr/bin/env bash
# run.sh: `make fuzz`: builds each tests/fuzz/fuzz_*.c as a libFuzzer binary (clang, ASan+UBSan)
# linked with the library sources, and runs it for SECONDS on its corpus tests/fuzz/corpus/<name>/,
# keeping new inputs there. Exits non-zero on a crash. Usage: run.sh SECONDS [name...]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
shift || true
command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
mkdir -p build/fuzz
cflags="-std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined $(pkg-config --cflags fuse3 libssl libzstd jansson libcurl) $(mysql_config --cflags)"
libs="$(pkg-config --libs libssl libcrypto libzstd fuse3 jansson libcurl) $(mysql_config --libs) -lpthread"
# Every library source, as the Makefile's libclonefs.a has them (tools/clone_local.c calls the
# donor agent's code): everything but the programs' mains and the FUSE layer.
srcs=$(ls transport/*.c transport/donor/*.c fs/*.c tools/*.c | grep -vE 'mount_main|clonefs_main|clonefsd_main|fs/fuse_')
names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||'))
status=0
for n in "${names[@]}"; do
	bin=build/fuzz/fuzz_$n
	clang $cflags -o "$bin" "tests/fuzz/fuzz_$n.c" $srcs $libs
	mkdir -p "tests/fuzz/corpus/$n"
	echo "fuzz $n: ${secs}s"
	if "$bin" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 -artifact_prefix="build/fuzz/$n-" \
		"tests/fuzz/corpus/$n" >"build/fuzz/$n.log" 2>&1; then
		echo "fuzz $n: ok, $(grep -m1 'stat::number_of_executed_units' "build/fuzz/$n.log" | awk '{print $2}') execs, corpus $(ls "tests/fuzz/corpus/$n" | wc -l) files"
	else
		echo "fuzz $n: CRASH, see build/fuzz/$n.log and build/fuzz/$n-*"
		status=1
	fi
done
exit $status
