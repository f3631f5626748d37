#!/usr/bin/env bash
# `make bench`: every benchmark in turn, each printing its table (JSON in bench/results/).
# Run on a quiet machine: the figures are wall-clock and the machine has 2 cores.
# A failing benchmark is reported and the others still run. Last, bench/summary.py prints one table of every
# target from bench/results/*.json; the exit code is non-zero if any benchmark failed or any target was missed.
# Shorter runs: LOAD_BENCH_ARGS="--duration 30", FUZZ_BENCH_ARGS="--examples 50", UI_BENCH_ARGS="--n 10", SLIDER_BENCH_ARGS="--n 5",
# EVAL_BENCH_ARGS="--limit 5".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
source scripts/env.sh
export CHAT3D_ENV=test
python -m bench.summary --record-start  # the run's start time and load average, for the summary's header

failed=()
run() {
  local title=$1; shift
  echo "== $title =="
  "$@" || failed+=("$title")
  echo
}

run "render service: bare vs. in-process exec baseline vs. sandboxed service" python -m bench.render_bench "$@"
run "pipeline overhead" python -m bench.pipeline_bench
run "SSE fan-out" python bench/sse_bench.py
# shellcheck disable=SC2086
run "load: 50 users, HTTP + SSE, a prompt every 10 s for 2 minutes" python -m bench.load_bench ${LOAD_BENCH_ARGS:-}
# shellcheck disable=SC2086
run "UI round trip in Chromium: light page vs. a chat with 200 items" python -m bench.ui_bench ${UI_BENCH_ARGS:-}
# shellcheck disable=SC2086
run "slider change → new mesh in the viewer (Chromium) vs. the part's bare build" python -m bench.slider_bench ${SLIDER_BENCH_ARGS:-}
# shellcheck disable=SC2086
run "API fuzzing (long run)" python -m bench.fuzz_bench ${FUZZ_BENCH_ARGS:-}
# shellcheck disable=SC2086
run "generation quality: CadQueryEval with the offline provider (docs/generation-quality.md)" \
  python -m bench.eval --suite cadqueryeval --models offline --json bench/results/eval.json ${EVAL_BENCH_ARGS:-}

echo "== summary: every target =="
python -m bench.summary
summary_rc=$?
status=0
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  status=1
fi
if [ $summary_rc -ne 0 ]; then
  [ $summary_rc -eq 1 ] && echo "targets missed: see TARGETS MISSED above" || echo "FAILED: the summary (exit $summary_rc)"
  status=1
fi
exit $status
