#!/usr/bin/env bash
# Installs every Debian 12 package moescope needs to build, test and run.
# Idempotent: only missing packages are installed. Nothing else is downloaded.
#   scripts/install-deps.sh          build + test + run dependencies
#   scripts/install-deps.sh --train  also the training stack for tools/train (python3-torch, data packages)
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # Vulkan: loader + headers, lavapipe (CPU device), validation layers, shader compiler
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers glslang-tools vulkan-tools
  # libraries
  nlohmann-json3-dev   # JSON (CLI --json, traces, GUI state)
  libcli11-dev         # command-line parsing
  libpcre2-dev         # Unicode-property regex for BPE pre-tokenizers
  doctest-dev          # tests
  python3 python3-jinja2   # the reference renderer the chat-template tests compare with (tests/jinja)
  # GUI
  libglfw3-dev libimgui-dev libstb-dev fonts-dejavu-core xvfb xauth
  # fuzzing / sanitizers
  clang-14 libclang-rt-14-dev
)
TRAIN_PKGS=(
  python3 python3-torch python3-sentencepiece python3-numpy
  libopenblas0-pthread   # torch's matrix products on OpenBLAS (about 5x the reference BLAS)
  # training data: English prose, other languages, C/C++ headers
  bible-kjv-text fortunes fortunes-de fortunes-es fortunes-it
  libc6-dev linux-libc-dev libstdc++-12-dev libvulkan-dev
)

if [[ "${1:-}" == "--train" ]]; then PKGS+=("${TRAIN_PKGS[@]}"); fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all packages present"
