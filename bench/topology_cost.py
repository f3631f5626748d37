"""The face table's added render cost (issue 27): time the post step spends on topology, per corpus part.

Runs each part's program in this process (trusted corpus code), writes its B-rep, then runs the post step's
``finish()`` with every format the app asks for, timing the two topology calls inside it (the face/edge table
and the GLB tagging with faces.json). Prints one JSON document: per part and total seconds. Called by
bench/render_bench.py, which relates the total to the corpus total it measured through the service.

    .venv/bin/python -m bench.topology_cost [part.py ...]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from render_service import postrender, runner  # noqa: E402

FORMATS = {"stl", "step", "3mf", "glb", "png", "topology"}


def measure(part: Path) -> dict:
    spent = {"table": 0.0, "tag": 0.0}
    table_fn, tag_fn = postrender.topology_table, postrender.write_topology

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - t
        return wrapper

    d = Path(tempfile.mkdtemp(prefix="topo-bench-"))
    cwd = os.getcwd()
    postrender.topology_table, postrender.write_topology = timed("table", table_fn), timed("tag", tag_fn)
    try:
        os.chdir(d)
        ns: dict = {"__name__": "__main__"}
        exec(compile(part.read_text(), str(part), "exec"), ns)  # noqa: S102 - the shared trusted corpus
        postrender.write_brep(runner.extract_result(ns), str(d / postrender.BREP_NAME))
        (d / "out").mkdir()
        t = time.perf_counter()
        got = postrender.finish(d, d / "out", max_output_bytes=1 << 28, formats=FORMATS)
        post_s = time.perf_counter() - t
        table = json.loads((d / "out" / "faces.json").read_text()) if got.get("ok") else {}
        return {"part": part.name, "ok": bool(got.get("ok")), "post_s": post_s, "table_s": spent["table"],
                "tag_s": spent["tag"], "faces": table.get("face_count"), "edges": table.get("edge_count")}
    finally:
        postrender.topology_table, postrender.write_topology = table_fn, tag_fn
        os.chdir(cwd)
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    corpus = Path(os.environ.get("CHAT3D_SHARED_DIR", REPO.parent / "shared")) / "render-corpus" / "parts"
    names = sys.argv[1:]
    parts = [corpus / n for n in names] if names else sorted(corpus.glob("*.py"))
    if parts:
        measure(parts[0])  # first use of the exporters and OCCT's adaptors: not the face table's cost
    rows = [measure(p) for p in parts]
    print(json.dumps({"rows": rows, "total_s": sum(r["table_s"] + r["tag_s"] for r in rows),
                      "post_total_s": sum(r["post_s"] for r in rows)}))


if __name__ == "__main__":
    main()
