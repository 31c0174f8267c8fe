#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (or until RUNS executions, whichever comes first),
# one after the other, and prints the executions and executions per second of each (libFuzzer's
# final `stat::number_of_executed_units`).
#
#   fuzz/run-all.sh SECONDS [RUNS] [TARGET ...]
#
# The issue-15 rule "≥ 10 million executions or ≥ 30 minutes a target" is
#   fuzz/run-all.sh 1800 10000000
# Two shells each running half of the targets use both cores.
#
# The committed seeds (fuzz/corpus/TARGET) are read, never written: what libFuzzer finds goes
# to $FUZZ_WORK/corpus/TARGET (default fuzz/target/work), so runs build on each other without
# growing the repository. A crash or timeout leaves its input in fuzz/artifacts/TARGET and
# makes the script exit 1 after the last target. Build output goes to $CARGO_TARGET_DIR
# (default fuzz/target).
set -uo pipefail
cd "$(dirname "$0")"

seconds=${1:?usage: fuzz/run-all.sh SECONDS [RUNS] [TARGET ...]}
runs=${2:--1}  # -1: no limit but the time
shift; [ $# -gt 0 ] && shift
work=${FUZZ_WORK:-$PWD/target/work}
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
mkdir -p "$work/logs"

cargo fuzz build -s none --target-dir "$target_dir" || exit 2
failed=0
printf '%-14s %12s %8s %10s  %s\n' target executions seconds exec/s result
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t"
  log="$work/logs/$t.log"
  # -timeout: one input taking over 10 s is a finding (a hang), not a slow machine.
  cargo fuzz run -s none --target-dir "$target_dir" "$t" "$work/corpus/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -n 1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  result=ok
  if [ "$rc" -ne 0 ]; then
    result="FAILED (exit $rc): see $log and artifacts/$t"
    failed=1
  fi
  rate=-
  if [ -n "$execs" ] && [ -n "$took" ] && [ "$took" -gt 0 ]; then rate=$((execs / took)); fi
  printf '%-14s %12s %8s %10s  %s\n' "$t" "${execs:--}" "${took:--}" "$rate" "$result"
done
exit "$failed"
