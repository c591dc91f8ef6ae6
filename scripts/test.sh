#!/usr/bin/env bash
# Builds mlsched with AddressSanitizer + UndefinedBehaviorSanitizer and runs every test
# (unit, wire, integration, fault, scenario, deploy, and the quick bench variants), then the
# libFuzzer targets for a bounded time. Works from a clean clone on Debian 12 as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc)
build=${MLSCHED_TEST_BUILD:-build-test}
# -O1 with line tables only: sanitizer reports keep their stack traces, and the build stays
# well inside CI's time on 2 cores.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DMLSCHED_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
(cd "$build" && ctest --output-on-failure -j"$jobs" --timeout 600) || status=$?

# Fuzz targets need clang's libFuzzer: a separate, small build.
if command -v clang++ >/dev/null; then
  fuzz=${build}-fuzz
  CXX=clang++ cmake -S . -B "$fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLSCHED_FUZZ=ON \
      -DMLSCHED_BENCH=OFF >/dev/null
  targets=$(cmake --build "$fuzz" --target help | sed -n 's/^\.\.\. \(fuzz_[a-z_]*\).*/\1/p')
  if [ -n "$targets" ]; then
    cmake --build "$fuzz" -j"$jobs" --target $targets
    (cd "$fuzz" && ctest --output-on-failure -L fuzz --timeout 300) || status=$?
  fi
fi
exit $status
