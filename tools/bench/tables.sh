#!/usr/bin/env bash
# The tables of docs/performance.md: generates the bench-shaped models (4 layers, n_embd 256,
# 8 experts top-2, FFN 512, 32k vocabulary) of each architecture in several weight types, then
# runs `moescope bench` on each and on the bundled model, and prints one markdown row per test.
# Usage: tools/bench/tables.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, /tmp/moescope-bench)
# Environment: BENCH_ARGS (default "-p 64,512 -n 32,128 -r 3"), BIG=1 adds the OLMoE-shaped
# 1.9 GB model of issue 8 (16 layers, n_embd 1024, 64 experts top-8, 50k vocabulary; slow).
set -euo pipefail
build=${1:-build}
out=${2:-/tmp/moescope-bench}
ms="$build/moescope"
args=${BENCH_ARGS:-"-p 64,512 -n 32,128 -r 3"}
mkdir -p "$out"
shape=(--n-embd 256 --n-layer 4 --n-head 8 --n-head-kv 8 --n-expert 8 --n-expert-used 2 --n-ff-exp 512
       --n-vocab 32000 --n-ctx 2048)
models=()
gen() {  # name arch type-flags...
  local f="$out/$1.gguf"
  [[ -f $f ]] || "$ms" gen-model --arch "$2" "${@:3}" "${shape[@]}" -o "$f" >/dev/null
  models+=("$f")
}
gen llama-q8_0 llama --type q8_0
gen llama-q4_0 llama --type q4_0
gen qwen2moe-q8_0 qwen2moe --type q8_0
gen qwen3moe-f16 qwen3moe --type f16
gen olmoe-mixed olmoe --mixed
if [[ ${BIG:-0} == 1 ]]; then
  f="$out/olmoe-big.gguf"
  [[ -f $f ]] || "$ms" gen-model --arch olmoe --type q8_0 --n-embd 1024 --n-layer 16 --n-head 16 --n-head-kv 16 \
                    --n-expert 64 --n-expert-used 8 --n-ff-exp 512 --n-vocab 50304 --n-ctx 4096 -o "$f" >/dev/null
  models+=("$f")
fi
echo "| model | test | t/s | ms/tok | MiB/tok | GB/s | % of bw | % of addr bw | GFLOP/s | % of FMA | load |"
echo "| :-- | :-- | --: | --: | --: | --: | --: | --: | --: | --: | --: |"
for m in bundled "${models[@]}"; do
  margs=()
  a=$args
  # the bundled model's context is 256 tokens
  if [[ $m == bundled ]]; then a=${args//512/256}; else margs=(-m "$m"); fi
  # shellcheck disable=SC2086
  text=$("$ms" bench "${margs[@]}" $a --roofline-mib 64)
  load=$(grep -o 'load *[0-9.]*' <<<"$text" | head -1 | awk '{print $2}')
  grep -E '^\| (pp|tg)[0-9]+ \|' <<<"$text" | sed "s/^| /| $(basename "$m" .gguf) | /; s/|\$/| $load |/"
done
