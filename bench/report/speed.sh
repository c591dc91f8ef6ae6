#!/bin/sh
# What mlsched costs on the scheduler's hot path (issue 7's speed report): runs
# mlsched-bench-service (filter, prioritize and bind over loopback at 100, 1,000 and 5,000
# nodes, names and full Node objects, concurrency 1 and 8, next to the empty-handler baseline;
# with --pipeline-rules, issue 6's prioritize with pipeline rules on vs off) and
# `mlsched-sim --throughput` (pods/s of the HTTP driver with a real mlsched-extender vs without
# any extender, on 1,000 and 5,000 nodes), then plots both with gnuplot.
#
#   bench/report/speed.sh [BUILD_DIR] [OUT_DIR]     (defaults: build, bench/reports/speed)
#   QUICK=1 bench/report/speed.sh ...               seconds, small sizes (the test suite's run)
#
# Writes OUT_DIR/service/bench_service.{csv,json,txt} and OUT_DIR/throughput/throughput.{csv,txt}
# (the benches' own raw numbers and output), OUT_DIR/latency.csv (p50 per verb and size),
# OUT_DIR/pods_per_s.csv, OUT_DIR/speed.svg and OUT_DIR/command.txt (the command, the machine
# and the load average before and after).
set -eu
BUILD=${1:-build}
OUT=${2:-bench/reports/speed}
SVC="$BUILD/bench/service/mlsched-bench-service"
SIM="$BUILD/bench/sim/mlsched-sim"
EXT="$BUILD/extender/mlsched-extender"
for bin in "$SVC" "$SIM" "$EXT"; do
  if [ ! -x "$bin" ]; then
    echo "build it first: cmake --build $BUILD --target mlsched-bench-service mlsched-sim mlsched-extender" >&2
    exit 1
  fi
done
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "gnuplot is missing (scripts/install-deps.sh installs gnuplot-nox)" >&2
  exit 1
fi
if [ "${QUICK:-0}" = 1 ]; then
  SVC_ARGS="--quick --sizes=100,1000 --pipeline-rules"
  SIM_ARGS="--throughput --quick"
else
  SVC_ARGS="--pipeline-rules"
  SIM_ARGS="--throughput"
fi
mkdir -p "$OUT/service" "$OUT/throughput"
{
  echo "command: $0 $*${QUICK:+ (QUICK=$QUICK)}"
  echo "machine: $(uname -a)"
  echo "nproc: $(nproc)"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/command.txt"

# shellcheck disable=SC2086 # the argument lists are meant to split
"$SVC" $SVC_ARGS --out "$OUT/service" > "$OUT/service/bench_service.txt"
# shellcheck disable=SC2086
"$SIM" $SIM_ARGS --extender-bin "$EXT" --out "$OUT/throughput" > "$OUT/throughput/throughput-run.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/command.txt"

# p50 latency (us) per verb and cluster size, from the service bench's CSV (columns: nodes,
# mode, pod, rules, verb, concurrency, ..., p50_us is the 12th). NaN where a case did not run.
awk -F, '
  NR == 1 { next }
  { sizes[$1] = 1; p50[$1 "," $2 "," $3 "," $4 "," $5 "," $6] = $12 }
  function get(n, key) { return (n "," key) in p50 ? p50[n "," key] : "NaN" }
  END {
    for (n in sizes) {
      print n "," get(n, "names,gpu,conf,baseline,1") "," get(n, "names,gpu,conf,filter,1") "," \
            get(n, "names,gpu,conf,prioritize,1") "," get(n, "bind,pending,conf,bind,1") "," \
            get(n, "full,gpu,conf,filter,1") "," get(n, "full,gpu,conf,prioritize,1") "," \
            get(n, "names,step,on,prioritize,1") "," get(n, "names,step,off,prioritize,1") "," \
            get(n, "names,gpu,conf,filter,8") "," get(n, "names,gpu,conf,prioritize,8")
    }
  }' "$OUT/service/bench_service.csv" | sort -t, -k1,1n > "$OUT/latency.body"
{
  echo "nodes,baseline_p50_us,filter_names_p50_us,prioritize_names_p50_us,bind_p50_us,filter_full_p50_us,prioritize_full_p50_us,prioritize_step_rules_on_p50_us,prioritize_step_rules_off_p50_us,filter_names_c8_p50_us,prioritize_names_c8_p50_us"
  cat "$OUT/latency.body"
} > "$OUT/latency.csv"
rm -f "$OUT/latency.body"

# pods/s per cluster size, with and without mlsched (throughput.csv: nodes, mode, pods_bound,
# wall_seconds, pods_per_second, cycle_pods_per_second, ...).
awk -F, '
  NR == 1 { next }
  { sizes[$1] = 1; if ($2 == "without") without[$1] = $5; else { with[$1] = $5; cycle[$1] = $6 } }
  END { for (n in sizes) print n "," without[n] "," with[n] "," cycle[n] }' \
  "$OUT/throughput/throughput.csv" | sort -t, -k1,1n > "$OUT/pods.body"
{
  echo "nodes,without_extender_pods_per_s,with_mlsched_pods_per_s,with_mlsched_cycle_limited_pods_per_s"
  cat "$OUT/pods.body"
} > "$OUT/pods_per_s.csv"
rm -f "$OUT/pods.body"

gnuplot <<GP
set terminal svg size 1100,460 dynamic font "sans,11"
set output "$OUT/speed.svg"
set datafile separator ","
set multiplot layout 1,2 title "mlsched speed (load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cpus; see command.txt)"
set title "p50 latency over loopback, concurrency 1"
set xlabel "nodes"
set ylabel "microseconds"
set logscale xy
set key top left
plot "$OUT/latency.csv" every ::1 using 1:2 with linespoints lw 2 title "empty handler (HTTP only)", \
     "" every ::1 using 1:3 with linespoints lw 2 title "filter, node names", \
     "" every ::1 using 1:4 with linespoints lw 2 title "prioritize, node names", \
     "" every ::1 using 1:8 with linespoints lw 2 dt 2 title "prioritize, pipeline step (rules on)", \
     "" every ::1 using 1:5 with linespoints lw 2 title "bind", \
     "" every ::1 using 1:6 with linespoints lw 2 title "filter, full Node objects"
unset logscale
set title "scheduling throughput, HTTP driver"
set ylabel "pods bound per second (log)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [1:*]
set key top right
plot "$OUT/pods_per_s.csv" every ::1 using 2:xtic(1) title "without extender", \
     "" every ::1 using 3 title "with mlsched", \
     "" every ::1 using 4 title "with mlsched, if binding were free"
unset multiplot
GP
cat "$OUT/latency.csv" "$OUT/pods_per_s.csv"
grep -A20 '^targets:' "$OUT/service/bench_service.txt" || true
echo "written: $OUT/latency.csv, $OUT/pods_per_s.csv, $OUT/speed.svg, $OUT/command.txt"
