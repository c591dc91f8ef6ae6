#!/bin/sh
# Runs the full placement-quality reports and the end-to-end throughput figure.
#
#   bench/report/quality.sh [BUILD_DIR]      (default BUILD_DIR: build)
#
# Writes, under bench/reports/ (each with index.html or throughput.txt, the raw CSV/JSON,
# the gnuplot script and SVGs, the command and the machine):
#   quality/    512 nodes x 8 GPUs (2 zones > 8 blocks > 32 racks), a generated day of jobs
#   philly/     the same cluster, a day of the Philly trace (from day 30)
#   alibaba/    the Alibaba pods on the Alibaba GPU node list, FGD-style
#   throughput/ pods/s over HTTP against mlsched-extender vs no extender, 1,000 and 5,000 nodes
set -eu
BUILD=${1:-build}
SIM="$BUILD/bench/sim/mlsched-sim"
if [ ! -x "$SIM" ]; then
  echo "build mlsched-sim first: cmake --build $BUILD --target mlsched-sim mlsched-extender" >&2
  exit 1
fi
"$SIM" --out bench/reports/quality
"$SIM" --philly --hours 24 --out bench/reports/philly
"$SIM" --alibaba --out bench/reports/alibaba
"$SIM" --throughput --out bench/reports/throughput
