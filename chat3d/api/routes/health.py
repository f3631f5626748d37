"""Liveness (`/health`: the process answers) and readiness (`/ready`: its dependencies answer)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from chat3d.services import readiness

router = APIRouter(tags=["health"])


@router.get("/health")
@router.head("/health", include_in_schema=False)
async def health() -> dict:
    return {"status": "ok"}


@router.get("/ready")
@router.head("/ready", include_in_schema=False)
async def ready() -> JSONResponse:
    report = await readiness.check_all()
    return JSONResponse(report, status_code=200 if report["status"] != "unavailable" else 503)
