#!/bin/sh
# As the official image: `redis-server [options]` without a config file listens on every interface of the container
# with protected mode off (its network is the protection), runs as the redis user and keeps its data in /data.
set -eu
if [ "${1:-}" = "redis-server" ]; then
    shift
    chown redis:redis /data
    exec runuser -u redis -- redis-server --protected-mode no --dir /data "$@"
fi
exec "$@"
