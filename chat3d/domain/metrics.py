"""Dashboard numbers for admins, computed from the real tables at request time (no counters to drift)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from chat3d.db.models import (
    FileKind,
    Invitation,
    InvitationStatus,
    Query,
    QueryState,
    StoredFile,
    User,
    UserStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from chat3d.domain.retention import storage_totals
from chat3d.settings import get_settings

SUCCESS = (QueryState.completed.value,)
FAILURE = (QueryState.failed.value, QueryState.cancelled.value)


def _by(session: Session, column, enum_cls) -> dict[str, int]:
    counts = {m.value: 0 for m in enum_cls}
    for value, n in session.exec(select(column, func.count()).group_by(column)).all():
        counts[value] = int(n)
    return counts


def _queries_since(session: Session, since: datetime) -> dict[str, Any]:
    # Five columns: more than sqlmodel's select has typed overloads for, so SQLAlchemy's own select.
    rows = session.execute(
        sa.select(
            col(Query.state),
            func.count(),
            func.coalesce(func.sum(Query.input_tokens), 0),
            func.coalesce(func.sum(Query.output_tokens), 0),
            func.coalesce(func.sum(Query.cost_usd), 0.0),
        )
        .where(col(Query.created_at) >= since)
        .group_by(col(Query.state))
    ).all()
    out = {
        "total": 0,
        "succeeded": 0,
        "failed": 0,
        "inProgress": 0,
        "inputTokens": 0,
        "outputTokens": 0,
        "costUsd": 0.0,
    }
    for state, n, tin, tout, cost in rows:
        n = int(n)
        out["total"] += n
        key = "succeeded" if state in SUCCESS else "failed" if state in FAILURE else "inProgress"
        out[key] += n
        out["inputTokens"] += int(tin)
        out["outputTokens"] += int(tout)
        out["costUsd"] += float(cost)
    out["costUsd"] = round(out["costUsd"], 6)
    # Renders: the distinct queries that produced a model file in the window.
    out["rendered"] = int(
        session.exec(
            select(func.count(func.distinct(StoredFile.query_id))).where(
                StoredFile.kind == FileKind.model.value,
                StoredFile.created_at >= since,
                col(StoredFile.query_id).is_not(None),
            )
        ).one()
    )
    return out


def dashboard_metrics(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Users, waitlist and invitations by status; queries (each prompt is one render run) today and over 7 days
    with success/failure; tokens and cost spent. "Today" is the UTC calendar day."""
    now = now or datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    totals = session.exec(
        select(
            func.count(),
            func.coalesce(func.sum(Query.input_tokens), 0),
            func.coalesce(func.sum(Query.output_tokens), 0),
            func.coalesce(func.sum(Query.cost_usd), 0.0),
        )
    ).one()
    return {
        "users": _by(session, User.status, UserStatus),
        "waitlist": _by(session, WaitlistEntry.status, WaitlistStatus),
        "invitations": _by(session, Invitation.status, InvitationStatus),
        "queriesToday": _queries_since(session, today),
        "queries7d": _queries_since(session, now - timedelta(days=7)),
        "allTime": {
            "queries": int(totals[0]),
            "inputTokens": int(totals[1]),
            "outputTokens": int(totals[2]),
            "costUsd": round(float(totals[3]), 6),
        },
        "limits": query_limits(),
        "storage": storage_totals(session),
        "generatedAt": now.isoformat(),
    }


def query_limits() -> dict[str, Any]:
    """The per-user query limits in force (settings), for the admin console."""
    settings = get_settings()
    return {
        "concurrentQueriesPerUser": settings.max_concurrent_queries_per_user,
        "dailyTokensPerUser": settings.daily_token_budget_per_user,
        "dailyCostUsdPerUser": settings.daily_cost_budget_usd_per_user,
        "maxRepairRounds": settings.max_repair_rounds,
    }
