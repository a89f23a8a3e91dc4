#!/usr/bin/env bash
# The weight-type table of docs/performance.md (issue 15): the OLMoE-shaped model (16 layers,
# n_embd 1024, 64 experts top-8, expert FFN 512, 50k vocabulary) in Q8_0 and in each real mix,
# benchmarked one after another in one run, one markdown row per test.
# Usage: tools/bench/types.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, /tmp/moescope-bench)
# Environment: BENCH_ARGS (default "-p 64 -n 32 -r 3"), MIXES (default "q8_0 q4_k_m q5_k_m iq4_xs mxfp4_moe").
set -euo pipefail
build=${1:-build}
out=${2:-/tmp/moescope-bench}
ms="$build/moescope"
args=${BENCH_ARGS:-"-p 64 -n 32 -r 3"}
mkdir -p "$out"
shape=(--arch olmoe --n-embd 1024 --n-layer 16 --n-head 16 --n-head-kv 16 --n-expert 64 --n-expert-used 8
       --n-ff-exp 512 --n-vocab 50304 --n-ctx 4096)
echo "| model | test | t/s | ms/tok | MiB/tok | GB/s | % of bw | % of addr bw | GFLOP/s | % of FMA | load |"
echo "| :-- | :-- | --: | --: | --: | --: | --: | --: | --: | --: | --: |"
for m in ${MIXES:-q8_0 q4_k_m q5_k_m iq4_xs mxfp4_moe}; do
  f="$out/olmoe-big-$m.gguf"
  if [[ ! -f $f ]]; then
    if [[ $m == q8_0 ]]; then "$ms" gen-model "${shape[@]}" --type q8_0 -o "$f" >/dev/null
    else "$ms" gen-model "${shape[@]}" --mix "$m" -o "$f" >/dev/null; fi
  fi
  # shellcheck disable=SC2086
  text=$("$ms" bench -m "$f" $args --roofline-mib 64)
  load=$(grep -o 'load *[0-9.]*' <<<"$text" | head -1 | awk '{print $2}')
  grep -E '^\| (pp|tg)[0-9]+ \|' <<<"$text" | sed "s/^| /| olmoe-$m | /; s/|\$/| $load |/"
done
