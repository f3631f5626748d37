"""Chat3D render service: runs untrusted build123d programs in sandboxed, pre-forked workers.

Layout (why each module exists):
- ``settings``  one place that reads the RENDER_* environment.
- ``precheck``  a fast AST courtesy check that gives friendly ``forbidden`` errors (not the wall).
- ``sandbox``   the OS wall: rlimits, uid drop, user/mount/net/pid namespaces, pivot_root, capability drop.
- ``runner``    what a worker does after the wall is up: exec, classify errors, metrics, exports.
- ``zygote``    single-threaded process that imported build123d once and forks one worker per job.
- ``pool``      the web server's client for the zygote (asyncio), plus result read-back.
- ``app``       the FastAPI app (/health, /render) with admission control.
"""
