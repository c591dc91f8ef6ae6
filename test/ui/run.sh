#!/usr/bin/env bash
# The cluster view's browser test (ctest: ui_cluster_view). Installs playwright-core from the
# committed package-lock.json into test/ui/node_modules when it is missing, then runs
# cluster_view_test.mjs, which starts mlsched-extender itself and drives Debian's chromium.
#   run.sh --extender PATH [--screenshot FILE] [--nodes N]
# To refresh the README's picture: run.sh --extender build/extender/mlsched-extender \
#   --screenshot docs/cluster-view.png
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for tool in node npm /usr/bin/chromium; do
  command -v "$tool" >/dev/null || { echo "ui test: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
if [ ! -d "$here/node_modules/playwright-core" ]; then
  # A lock on the folder: ctest may start this from two build trees at once.
  (cd "$here" && flock "$here/package-lock.json" npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/cluster_view_test.mjs" "$@"
