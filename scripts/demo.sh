#!/usr/bin/env bash
# Builds mlsched-extender and runs it on the embedded demo cluster (deploy/demo/cluster.yaml):
# no Kubernetes needed. Shows it answering the four verbs the way kube-scheduler calls them,
# then keeps serving on 127.0.0.1:8888 until Ctrl-C. Pass --master URL or --kubeconfig FILE to
# run against a real API server instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

build=${MLSCHED_BUILD:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLSCHED_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target mlsched-extender

bin="$build/extender/mlsched-extender"
port=${PORT:-8888}
if [ $# -gt 0 ]; then
  exec "$bin" --port "$port" "$@"
fi
"$bin" --cluster-file deploy/demo/cluster.yaml --port "$port" --debug-port $((port + 1)) &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
exec 3>&1
bash scripts/demo-requests.sh "127.0.0.1:$port" >&3
echo
echo "mlsched-extender is serving on http://127.0.0.1:$port; the cluster view is at http://127.0.0.1:$((port + 1))/"
echo "Ctrl-C stops it."
wait $pid
