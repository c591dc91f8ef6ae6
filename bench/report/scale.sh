#!/bin/sh
# How the model grows with the cluster: runs mlsched-bench-scale at 500, 1,000, 2,000 and 5,000
# nodes (30 pods per node, as in the 5,000-node / 150,000-pod limit) and plots time to ready,
# model memory and the latency of each verb (in process, on the full model) against nodes with
# gnuplot. SIZES="100 200" picks other sizes (the test suite's quick run).
#
#   bench/report/scale.sh [BUILD_DIR] [OUT_DIR]     (defaults: build, bench/reports/scale)
#
# Writes OUT_DIR/<nodes>/scale.json per run, OUT_DIR/scale.csv, OUT_DIR/scale.svg, and
# OUT_DIR/command.txt (the command and the machine).
set -eu
BUILD=${1:-build}
OUT=${2:-bench/reports/scale}
SIZES=${SIZES:-"500 1000 2000 5000"}
BIN="$BUILD/bench/scale/mlsched-bench-scale"
if [ ! -x "$BIN" ]; then
  echo "build it first: cmake --build $BUILD --target mlsched-bench-scale" >&2
  exit 1
fi
mkdir -p "$OUT"
{
  echo "command: $0 $*"
  echo "machine: $(uname -a)"
  echo "nproc: $(nproc)"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/command.txt"
# A value from the bench's JSON: "name": {"value": V, ...}
value() { sed -n "s/.*\"$2\": {\"value\": \([^,]*\),.*/\1/p" "$1"; }
echo "nodes,pods,ready_s,model_bytes_per_pod,model_bytes_per_node,model_mib,rss_mib,filter_p50_us,prioritize_p50_us,bind_p50_us,preempt_p50_us,filter_p99_us,prioritize_p99_us,bind_p99_us,preempt_p99_us" > "$OUT/scale.csv"
for n in $SIZES; do
  pods=$((n * 30))
  "$BIN" --nodes="$n" --pods="$pods" --churn_seconds=1 --out="$OUT/$n" 2>/dev/null
  j="$OUT/$n/scale.json"
  ready=$(value "$j" "time to ready")
  per_pod=$(value "$j" "model bytes per pod")
  per_node=$(value "$j" "model bytes per node")
  before=$(value "$j" "RSS before")
  after=$(value "$j" "RSS after sync")
  model=$(awk -v p="$per_pod" -v q="$per_node" -v np="$pods" -v nn="$n" \
    'BEGIN { printf "%.1f", (p * np + q * nn) / 1048576 }')
  rss=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.1f", a - b }')
  verbs=""
  for q in p50 p99; do
    for v in filter prioritize bind preempt; do
      verbs="$verbs,$(value "$j" "$v $q")"
    done
  done
  echo "$n,$pods,$ready,$per_pod,$per_node,$model,$rss$verbs" >> "$OUT/scale.csv"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/command.txt"
gnuplot <<GP
set terminal svg size 1300,420 dynamic font "sans,11"
set output "$OUT/scale.svg"
set datafile separator ","
set key top left
set multiplot layout 1,3 title "mlsched model vs cluster size (30 pods per node)"
set xlabel "nodes"
set ylabel "seconds"
set title "time to ready (LIST + decode + model)"
plot "$OUT/scale.csv" every ::1 using 1:3 with linespoints lw 2 title "time to ready"
set ylabel "MiB"
set title "memory"
plot "$OUT/scale.csv" every ::1 using 1:6 with linespoints lw 2 title "model (bytes per pod x pods + per node x nodes)", \
     "" every ::1 using 1:7 with linespoints lw 2 title "RSS growth during sync"
set ylabel "microseconds (p50)"
set title "latency per verb on the full model (in process)"
set logscale y
plot "$OUT/scale.csv" every ::1 using 1:8 with linespoints lw 2 title "filter (all nodes)", \
     "" every ::1 using 1:9 with linespoints lw 2 title "prioritize (all nodes)", \
     "" every ::1 using 1:10 with linespoints lw 2 title "bind", \
     "" every ::1 using 1:11 with linespoints lw 2 title "preempt (10% of nodes)"
unset multiplot
GP
cat "$OUT/scale.csv"
echo "written: $OUT/scale.csv, $OUT/scale.svg"
