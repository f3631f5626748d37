#!/usr/bin/env bash
# `make bench`: every benchmark in turn, each printing its table (JSON in bench/results/).
# Run on a quiet machine: the figures are wall-clock and the machine has 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
export CHAT3D_ENV=test

echo "== render service: bare vs. in-process exec baseline vs. sandboxed service =="
python -m bench.render_bench "$@"
echo
echo "== pipeline overhead =="
python -m bench.pipeline_bench
echo
echo "== SSE fan-out =="
python bench/sse_bench.py
echo
echo "== API fuzzing (long run) =="
python -m bench.fuzz_bench
echo
echo "== load: 50 users, HTTP + SSE, a prompt every 10 s for 2 minutes =="
python -m bench.load_bench ${LOAD_BENCH_ARGS:-}
