# The two README commands (`make dev`, `make test`) and the benchmarks. Each script installs what it needs.
.PHONY: dev dev-reload test bench setup deploy-test

dev:
	@scripts/dev.sh

dev-reload:
	@scripts/setup.sh && . scripts/env.sh && python -m chat3d.bootstrap && reflex run --env dev

test:
	@scripts/test.sh

# docker-compose.yml started for real and checked end to end, then on a single-node Swarm (both also run by
# `make test`): docs/deployment.md
deploy-test:
	@scripts/test.sh tests/deploy/test_compose_up.py tests/deploy/test_swarm.py

bench:
	@scripts/bench.sh

setup:
	@scripts/setup.sh
