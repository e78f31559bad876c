#!/usr/bin/env bash
# run.sh: runs every test (unit binaries, fuzz corpus replays, end-to-end scripts), one line each,
# logs in BUILD/test-logs/, and ends with "N passed, N failed, N skipped". Called by `make test`.
#   bash tests/run.sh --build=DIR --bin=DIR [--only=unit|e2e]     TESTS=regex filters by name (a|b)
set -uo pipefail
cd "$(dirname "$0")/.."
build=build bin=bin only=
for a in "$@"; do
	case $a in
	--build=*) build=${a#*=} ;;
	--bin=*) bin=${a#*=} ;;
	--only=*) only=${a#*=} ;;
	*) echo "run.sh: unknown argument $a" >&2; exit 2 ;;
	esac
done
export CLONEFS_BIN=$(cd "$bin" && pwd)
logs=$build/test-logs
mkdir -p "$logs"
passed=0 failed=0 skipped=0 failures=()
# Under the sanitizers, each test's processes write their reports to files of its own (log_path):
# a report from a daemon (a leak at its exit, an error after its test stopped looking) fails the
# test too, not only one that ended its process with a non-zero status.
san_asan=${ASAN_OPTIONS:-} san_ubsan=${UBSAN_OPTIONS:-} san_tsan=${TSAN_OPTIONS:-}

run_one() { # name cmd...
	local name=$1 start=$SECONDS rc=0
	local log=$logs/${1//\//_}.log
	shift
	if [ -n "${TESTS:-}" ] && ! [[ $name =~ $TESTS ]]; then return; fi
	local san=$logs/${name//\//_}.san
	rm -rf "$san"
	mkdir -p "$san"
	[ -z "$san_asan" ] || export ASAN_OPTIONS="$san_asan:log_path=$PWD/$san/asan"
	[ -z "$san_ubsan" ] || export UBSAN_OPTIONS="$san_ubsan:log_path=$PWD/$san/ubsan"
	[ -z "$san_tsan" ] || export TSAN_OPTIONS="$san_tsan log_path=$PWD/$san/tsan"
	timeout -k 10 "${TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1 </dev/null || rc=$?
	if [ -n "$(ls -A "$san")" ]; then
		{ echo "-- sanitizer reports:"; cat "$san"/*; } >>"$log"
		[ $rc != 0 ] && [ $rc != 77 ] || rc=70
	fi
	rmdir "$san" 2>/dev/null
	local took=$((SECONDS - start))
	if [ $rc = 0 ]; then
		passed=$((passed + 1)); echo "PASS $name (${took}s)"
	elif [ $rc = 77 ]; then
		skipped=$((skipped + 1)); echo "SKIP $name: $(grep -m1 '^SKIP' "$log" | cut -c7-)"
	else
		failed=$((failed + 1)); failures+=("$name")
		[ $rc = 124 ] && echo "FAIL $name (timed out after ${took}s)" || echo "FAIL $name (exit $rc, ${took}s)"
		tail -40 "$log" | sed 's/^/    /'
	fi
}

if [ "$only" != e2e ]; then
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
	done
	for r in "$build"/tests/replay_*; do
		[ -x "$r" ] || continue
		name=${r##*/replay_}
		run_one "fuzz-corpus/$name" "$r" "tests/fuzz/corpus/$name"
	done
fi
if [ "$only" != unit ]; then
	for t in tests/e2e/test_*.sh; do
		run_one "e2e/$(basename "$t" .sh)" bash "$t"
	done
fi
[ ${#failures[@]} = 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
