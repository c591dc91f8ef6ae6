#!/usr/bin/env bash
# Installs every Debian 12 package mlsched needs to build, test and run its benches.
# Idempotent: does nothing when everything is already there. Run as root.
set -euo pipefail

PACKAGES=(
  g++ cmake make pkg-config ca-certificates curl procps
  clang libclang-rt-14-dev                       # libFuzzer targets
  libpistache-dev rapidjson-dev libcurl4-openssl-dev libgoogle-glog-dev
  libcpp-httplib-dev doctest-dev prometheus-cpp-dev libyaml-cpp-dev libssl-dev
  gnuplot-nox openssl                            # bench report plots; test certificates
  chromium fonts-dejavu-core                     # the cluster view's browser test (test/ui)
)

# Node.js and npm run the browser test's driver (playwright-core, pinned in test/ui to a
# release that runs on Debian 12's Node.js 18). A machine that already has a node (say from
# NodeSource, whose nodejs package carries its own npm) keeps it: Debian's npm would conflict.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
