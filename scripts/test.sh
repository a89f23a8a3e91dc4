#!/usr/bin/env bash
# The whole test suite, in three stages; CI (.ci/run) and the README run it after scripts/setup.sh:
#   release   every ctest test on ./build (what scripts/setup.sh built)
#   fuzz      ./build-fuzz (clang-14): each libFuzzer target (GGUF reader, model loader, tokenizer,
#             trace reader) for MOESCOPE_FUZZ_SECONDS (default 60) from its seed corpus; a crash,
#             leak, timeout or out-of-memory fails
#   sanitize  ./build-asan: the same ctest tests built with -fsanitize=address,undefined; any
#             report fails (halt on the first error; leaks inside the Vulkan driver, the loader
#             and the X11/GLFW stack are suppressed by tests/sanitizers/lsan.supp)
# Usage: scripts/test.sh [release] [fuzz] [sanitize]   (no argument: all three, in that order)
# Every stage runs even if an earlier one failed; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)
stages=("$@")
if ((${#stages[@]} == 0)); then stages=(release fuzz sanitize); fi

stage_release() {
  ctest --test-dir build --output-on-failure -j"$jobs"
}

stage_fuzz() {
  local seconds=${MOESCOPE_FUZZ_SECONDS:-60}
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOESCOPE_FUZZ=ON -DMOESCOPE_BUILD_GUI=OFF \
        -DMOESCOPE_FUZZ_SECONDS="$seconds" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null || return 1
  cmake --build build-fuzz -j"$jobs" --target fuzz_gguf gguf_seeds fuzz_model model_seeds fuzz_tokenizer \
        tokenizer_seeds fuzz_trace trace_seeds fuzz_jinja jinja_seeds || return 1
  rm -rf build-fuzz/tests/fuzz/corpus  # every run starts from the seeds
  local rc=0
  ctest --test-dir build-fuzz -L fuzz --output-on-failure -j"$jobs" || rc=1
  # executions per target, from libFuzzer's final statistics
  awk '/^[0-9]+\/[0-9]+ Test: / { name = $3 }
       /stat::number_of_executed_units/ { printf "  %-16s %12d executions\n", name, $2 }
       /stat::peak_rss_mb/ { printf "  %-16s %12d MB peak RSS\n", name, $2 }' \
      build-fuzz/Testing/Temporary/LastTest.log
  return $rc
}

stage_sanitize() {
  # -O2 -g1 keeps the run fast with file:line in every report; asserts stay on
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1" \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1" -DMOESCOPE_SANITIZE=address,undefined >/dev/null || return 1
  cmake --build build-asan -j"$jobs" || return 1
  # libraries opened at run time stay loaded, so that leak reports can name them (keep_loaded.c)
  cc -shared -fPIC -O2 -o build-asan/libkeep_loaded.so tests/sanitizers/keep_loaded.c || return 1
  LD_PRELOAD="$root/build-asan/libkeep_loaded.so" \
  ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:verify_asan_link_order=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0" \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
}

failed=()
summary=()
for s in "${stages[@]}"; do
  case "$s" in release|fuzz|sanitize) ;; *) echo "test.sh: unknown stage '$s' (release, fuzz, sanitize)" >&2; exit 2 ;; esac
  echo "=== test.sh: stage $s"
  t0=$SECONDS
  if "stage_$s"; then result=passed; else result=FAILED; failed+=("$s"); fi
  summary+=("$(printf '%-9s %-6s %4d s' "$s" "$result" $((SECONDS - t0)))")
done
echo "=== test.sh summary"
printf '  %s\n' "${summary[@]}"
((${#failed[@]} == 0))
