#!/usr/bin/env bash
# Installs the Debian packages moescope needs (only the missing ones), configures and builds
# into ./build. Safe to run again: every step is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
