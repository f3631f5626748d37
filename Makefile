# The two README commands (`make dev`, `make test`) and the benchmarks. Each script installs what it needs.
.PHONY: dev dev-reload test bench setup

dev:
	@scripts/dev.sh

dev-reload:
	@scripts/setup.sh && . scripts/env.sh && python -m chat3d.bootstrap && reflex run --env dev

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh

setup:
	@scripts/setup.sh
