"""The thing we beat: a minimal FastAPI app that exec()s the program in-process, in threads.

No isolation at all (one os._exit takes it down). Uses the same build/export code as the real
service (render_service.runner.build_and_export) so the benchmark compares architectures, not
export settings. Run: ``python -m bench.baseline_exec_service --port 8091``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from render_service.protocol import RESULT_MEDIA_TYPE, RenderedFile, RenderSuccess
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
                files.append(RenderedFile(format=fmt, filename=name, data=fh.read()))
        # The service's own wire format (render_service/protocol.py), so both answers cost the same to send.
        body = RenderSuccess(files=files, metrics=doc["metrics"], log=doc["log"]).encode()
        return Response(body, media_type=RESULT_MEDIA_TYPE)
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
