# bench_lib.sh: the timing helpers run.sh and many_tables.sh share (sourced after tests/lib/e2e.sh).
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
say() { printf '%s\n' "-- $*" >&2; }
# cold: every timed step starts from the same state, the page cache dropped (written back first):
# the donor's files are read from the disk, as a production donor's InnoDB files are (O_DIRECT keeps
# them out of the page cache), and no step inherits the page cache an earlier one filled. (On this
# VM a clone run with a few GB of earlier snapshots still cached took 1.4-1.8 s against 1.0-1.1 s
# after a drop: new page cache there costs more than reused.)
cold() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
