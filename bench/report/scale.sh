#!/bin/sh
# How the model grows with the cluster: runs mlsched-bench-scale at 500, 1,000, 2,000 and 5,000
# nodes (30 pods per node, as in the 5,000-node / 150,000-pod limit) and plots time to ready and
# model memory against nodes with gnuplot.
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
} > "$OUT/command.txt"
# A value from the bench's JSON: "name": {"value": V, ...}
value() { sed -n "s/.*\"$2\": {\"value\": \([^,]*\),.*/\1/p" "$1"; }
echo "nodes,pods,ready_s,model_bytes_per_pod,model_bytes_per_node,model_mib,rss_mib" > "$OUT/scale.csv"
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
  echo "$n,$pods,$ready,$per_pod,$per_node,$model,$rss" >> "$OUT/scale.csv"
done
gnuplot <<GP
set terminal svg size 900,420 dynamic font "sans,11"
set output "$OUT/scale.svg"
set datafile separator ","
set key top left
set multiplot layout 1,2 title "mlsched model vs cluster size (30 pods per node)"
set xlabel "nodes"
set ylabel "seconds"
set title "time to ready (LIST + decode + model)"
plot "$OUT/scale.csv" every ::1 using 1:3 with linespoints lw 2 title "time to ready"
set ylabel "MiB"
set title "memory"
plot "$OUT/scale.csv" every ::1 using 1:6 with linespoints lw 2 title "model (bytes per pod x pods + per node x nodes)", \
     "" every ::1 using 1:7 with linespoints lw 2 title "RSS growth during sync"
unset multiplot
GP
cat "$OUT/scale.csv"
echo "written: $OUT/scale.csv, $OUT/scale.svg"
