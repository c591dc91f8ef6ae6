#!/usr/bin/env bash
# Talks to a running mlsched-extender the way kube-scheduler does (nodeCacheCapable: true) and
# prints what it answers. Used by scripts/demo.sh; usage: demo-requests.sh HOST:PORT [DEBUG_PORT]
set -euo pipefail
addr=${1:-127.0.0.1:8888}
debug=${2:-$(( ${addr##*:} + 1 ))}
host=${addr%:*}
dir="$(dirname "$0")/../deploy/demo/requests"  # bodies for the pending pods of the demo cluster
post() { curl -sS -X POST -H 'Content-Type: application/json' --data-binary "@$dir/$2.json" \
              "http://$addr/$1"; }
passed() { sed -n 's/.*"NodeNames":\["\([^"]*\)".*/\1/p'; }
uid() { grep -o '"uid":"[^"]*"' "$dir/filter-$1.json" | head -1 | cut -d'"' -f4; }  # the pod's own
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "readyz"
curl -sS "http://$addr/readyz"; echo

say "filter: notebook-alice, 1 GPU (nodes without a free GPU fail, with the reason)"
post filter filter-notebook-alice; echo
say "prioritize: GPU best-fit — partly used GPU nodes first, whole nodes stay free for big jobs"
post prioritize filter-notebook-alice; echo

members=(llama-pretrain-master-0 llama-pretrain-worker-0 llama-pretrain-worker-1 llama-pretrain-worker-2)
say "filter: the first member of gang ml/llama-pretrain (4 x 8 GPUs) — planned as a whole"
post filter "filter-${members[0]}"; echo
say "prioritize: the planned node ranks first"
post prioritize "filter-${members[0]}"; echo

declare -A node
for m in "${members[@]}"; do
  node[$m]=$(post filter "filter-$m" | passed)
  echo "$m -> ${node[$m]:-<no node>}"
done

say "bind: the first three members wait at the gang barrier (answered asynchronously) ..."
pids=()
for m in "${members[@]:0:3}"; do
  body="{\"PodName\":\"$m\",\"PodNamespace\":\"ml\",\"PodUID\":\"$(uid "$m")\",\"Node\":\"${node[$m]}\"}"
  (out=$(curl -sS -X POST -H 'Content-Type: application/json' -d "$body" "http://$addr/bind")
   echo "bind $m -> $out") &
  pids+=($!)
done
sleep 1
say "gang state while three binds wait (explain view on :$debug)"
curl -sS "http://$host:$debug/debug/gangs"; echo
m=${members[3]}
say "... and the fourth completes the barrier: all four are bound together"
body="{\"PodName\":\"$m\",\"PodNamespace\":\"ml\",\"PodUID\":\"$(uid "$m")\",\"Node\":\"${node[$m]}\"}"
echo "bind $m -> $(curl -sS -X POST -H 'Content-Type: application/json' -d "$body" "http://$addr/bind")"
wait "${pids[@]}"

say "metrics (excerpt)"
curl -sS "http://$addr/metrics" |
  grep -E '^mlsched_(extender_requests_total\{code="[0-9]+",verb="(filter|prioritize|bind)"|model_)' |
  grep -v ' 0$' | head -20
