"""The thing we beat: a minimal FastAPI app that exec()s the program in-process, in threads.

No isolation at all (one os._exit takes it down). Uses the same build/export code as the real
service (render_service.runner.build_and_export) so the benchmark compares architectures, not
export settings. Run: ``python -m bench.baseline_exec_service --port 8091``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import tempfile

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from render_service.runner import build_and_export

app = FastAPI()


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/render")
def render(body: dict):  # sync: FastAPI runs it in its thread pool
    formats = body.get("formats") or ["stl", "step", "3mf", "glb"]
    out = tempfile.mkdtemp(prefix="baseline-")
    try:
        doc = build_and_export(body["code"], formats, out, check=False)
        if not doc["ok"]:
            return JSONResponse(doc, status_code=422)
        files = []
        for fmt, name in doc["files"].items():
            with open(os.path.join(out, name), "rb") as fh:
                data = fh.read()
            files.append({"format": fmt, "filename": name, "size": len(data),
                          "sha256": hashlib.sha256(data).hexdigest(),
                          "content_base64": base64.b64encode(data).decode()})
        return {"ok": True, "files": files, "metrics": doc["metrics"], "log": doc["log"]}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8091)
    args = ap.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
