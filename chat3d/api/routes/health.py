"""Liveness (`/health`: the process answers) and readiness (`/ready`: its dependencies answer)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from chat3d.services import readiness

router = APIRouter(tags=["health"])


@router.api_route("/health", methods=["GET", "HEAD"])
async def health() -> dict:
    return {"status": "ok"}


@router.api_route("/ready", methods=["GET", "HEAD"])
async def ready() -> JSONResponse:
    report = await readiness.check_all()
    return JSONResponse(report, status_code=200 if report["status"] != "unavailable" else 503)
