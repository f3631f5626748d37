"""The post step's added render costs, per corpus part: the face table and the per-part files (issue 27) and
the review views (issue 23).

Runs each part's program in this process (trusted corpus code), writes its B-rep, then runs the post step's
``finish()`` with every format the app asks for (the review's ``views`` included), timing the two topology
calls inside it (the face/edge table and the GLB tagging with faces.json), the per-part files (parts.zip, made
for results of several solids) and the views sheet (``render_views``, made only when a vision model reviews the
part). Prints one JSON document: per part and total seconds. Called by bench/render_bench.py, which relates the
totals to the corpus total it measured through the service.

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

from render_service import parts, postrender, runner  # noqa: E402

FORMATS = {"stl", "step", "3mf", "glb", "png", "topology", "views", "parts"}


def measure(part: Path) -> dict:
    spent = {"table": 0.0, "tag": 0.0, "views": 0.0, "parts": 0.0}
    table_fn, tag_fn, views_fn = postrender.topology_table, postrender.write_topology, postrender.render_views
    parts_fn = postrender.export_parts

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
    postrender.render_views = timed("views", views_fn)
    postrender.export_parts = timed("parts", parts_fn)  # issue 27 step 4: each part's files (several solids only)
    try:
        os.chdir(d)
        ns: dict = {"__name__": "__main__"}
        exec(compile(part.read_text(encoding="utf-8"), str(part), "exec"), ns)  # noqa: S102 - the shared trusted corpus
        shape = runner.extract_result(ns)
        postrender.write_brep(shape, str(d / postrender.BREP_NAME))
        (d / "out").mkdir()
        t = time.perf_counter()
        got = postrender.finish(d, d / "out", max_output_bytes=1 << 28, formats=FORMATS,
                                labels=parts.program_labels(ns.get("result"), shape))
        post_s = time.perf_counter() - t
        table = json.loads((d / "out" / "faces.json").read_text(encoding="utf-8")) if got.get("ok") else {}
        return {"part": part.name, "ok": bool(got.get("ok")), "post_s": post_s, "table_s": spent["table"],
                "tag_s": spent["tag"], "views_s": spent["views"], "parts_s": spent["parts"],
                "faces": table.get("face_count"), "edges": table.get("edge_count"), "solids": got.get("solids")}
    finally:
        postrender.topology_table, postrender.write_topology, postrender.render_views = table_fn, tag_fn, views_fn
        postrender.export_parts = parts_fn
        os.chdir(cwd)
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    corpus = Path(os.environ.get("CHAT3D_SHARED_DIR", REPO.parent / "shared")) / "render-corpus" / "parts"
    names = sys.argv[1:]
    parts = [corpus / n for n in names] if names else sorted(corpus.glob("*.py"))
    if parts:
        measure(parts[0])  # first use of the exporters and OCCT's adaptors: not the face table's cost
    rows = [measure(p) for p in parts]
    views = sorted(r["views_s"] for r in rows)
    print(json.dumps({"rows": rows, "total_s": sum(r["table_s"] + r["tag_s"] for r in rows),
                      "views_total_s": sum(views), "views_median_s": views[len(views) // 2] if views else None,
                      "parts_total_s": sum(r["parts_s"] for r in rows),
                      "post_total_s": sum(r["post_s"] for r in rows)}))


if __name__ == "__main__":
    main()
