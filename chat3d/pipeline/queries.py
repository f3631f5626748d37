"""Query rules: submit, regenerate, cancel, state transitions and the events they publish.

A query's row is the durable record of its run: its state, repair round, usage and lease. Every state
change is written together with its `chat.query.state` event in one transaction, so a client that
replays events sees exactly the states the database holds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from chat3d.db.models import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    ChatContext,
    ChatItem,
    ItemRole,
    Query,
    QueryState,
    StoredFile,
    User,
    utcnow,
)
from chat3d.domain import chats, segments
from chat3d.domain.coerce import as_uuid
from chat3d.domain.errors import InvalidInput, NotFound, RateLimited
from chat3d.events import types as ev
from chat3d.events.store import record_event, record_item_updated
from chat3d.llm.registry import ModelSpec
from chat3d.settings import get_settings

MAX_ATTACHMENTS = 4


@dataclass
class Submitted:
    query: Query
    user_item: ChatItem | None
    assistant_item: ChatItem


def resolve_model(model_id: str | None, stage: str, fallback: str | None) -> ModelSpec:
    """The model to use for a stage: the request's, else the chat's, else the default; must be usable now."""
    from chat3d.domain import model_settings

    config = model_settings.load()
    return model_settings.usable_model(model_id or fallback or config.defaults[stage], stage, config)


def _lock_user(session: Session, user_id: uuid.UUID) -> None:
    """Serialise one user's submissions so the concurrency limit holds under parallel requests."""
    session.exec(select(User.id).where(User.id == user_id).with_for_update())


def _check_limits(session: Session, user_id: uuid.UUID) -> None:
    settings = get_settings()
    running = session.exec(
        select(sa.func.count())
        .select_from(Query)
        .where(Query.owner_id == user_id, col(Query.state).in_([s.value for s in ACTIVE_STATES]))
    ).one()
    if running >= settings.max_concurrent_queries_per_user:
        raise RateLimited(
            f"You already have {running} requests running; wait for one to finish or stop it.", retry_after=5
        )
    start_of_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tokens, cost = session.exec(
        select(
            sa.func.coalesce(sa.func.sum(Query.input_tokens + Query.output_tokens), 0),
            sa.func.coalesce(sa.func.sum(Query.cost_usd), 0.0),
        ).where(Query.owner_id == user_id, Query.created_at >= start_of_day)
    ).one()
    reset_in = int((start_of_day + timedelta(days=1) - datetime.now(UTC)).total_seconds())
    if settings.daily_token_budget_per_user and tokens >= settings.daily_token_budget_per_user:
        raise RateLimited(
            f"You have used today's budget of {settings.daily_token_budget_per_user:,} tokens; it renews at 00:00 UTC.",
            retry_after=reset_in,
        )
    if settings.daily_cost_budget_usd_per_user and cost >= settings.daily_cost_budget_usd_per_user:
        raise RateLimited(
            f"You have used today's budget of ${settings.daily_cost_budget_usd_per_user:.2f}; it renews at 00:00 UTC.",
            retry_after=reset_in,
        )


def _attachment_segment(
    session: Session, owner_id: uuid.UUID, file_ids: list[str]
) -> segments.AttachmentsSegment | None:
    if not file_ids:
        return None
    if len(file_ids) > MAX_ATTACHMENTS:
        raise InvalidInput(f"At most {MAX_ATTACHMENTS} images can be attached to one message.")
    from chat3d.domain.files import get_file

    rows: list[StoredFile] = [get_file(session, owner_id, fid) for fid in file_ids]
    for row in rows:
        if row.kind != "upload":
            raise InvalidInput("Only uploaded images can be attached.")
    return segments.attachments([segments.file_ref(r) for r in rows])


def submit_query(
    session: Session,
    owner_id: uuid.UUID,
    context_id: uuid.UUID | str,
    prompt: str,
    *,
    attachments: list[str] | None = None,
    conversation_model_id: str | None = None,
    codegen_model_id: str | None = None,
    selection: dict | None = None,
) -> Submitted:
    """Store the prompt, a pending answer and a queued query; the caller enqueues the job after commit.

    ``selection`` ({"version": item id, "ids": ["F3", ...]}): faces/edges the user pointed at in that version;
    their stored rows go with the prompt (issue 27)."""
    ctx = chats.get_context(session, owner_id, context_id)
    text = (prompt or "").strip()
    if not text:
        raise InvalidInput("Write what you would like to model.")
    if len(text) > chats.MAX_PROMPT:
        raise InvalidInput(f"A prompt can have at most {chats.MAX_PROMPT} characters.")
    conv = resolve_model(conversation_model_id, "conversation", ctx.conversation_model_id)
    code = resolve_model(codegen_model_id, "codegen", ctx.codegen_model_id)
    _lock_user(session, owner_id)
    _check_limits(session, owner_id)

    first_prompt = (
        session.exec(select(sa.func.count()).select_from(ChatItem).where(ChatItem.context_id == ctx.id)).one() == 0
    )
    if first_prompt and ctx.name == "New chat":
        ctx.name = chats.name_from_prompt(text)
    said: list[segments.Segment] = [segments.text(text)]
    attach = _attachment_segment(session, owner_id, attachments or [])
    if attach:
        said.append(attach)
    if selection and (picked_ids := selection.get("ids")):
        from chat3d.domain import selection as picked

        rows = picked.resolve(session, owner_id, ctx.id, str(selection.get("version") or ""), picked_ids)
        if rows:
            said.append(segments.selection(str(selection["version"]), picked.selection_items(rows)))
    user_item = chats.add_item(session, ctx, ItemRole.user, said)
    query = Query(
        owner_id=owner_id,
        context_id=ctx.id,
        user_item_id=user_item.id,
        prompt=text,
        conversation_model_id=conv.id,
        codegen_model_id=code.id,
    )
    session.add(query)
    session.flush()
    assistant = chats.add_item(session, ctx, ItemRole.assistant, [segments.pending(str(query.id))])
    query.assistant_item_id = assistant.id
    if attach:
        for f in attach["files"]:
            row = session.get(StoredFile, uuid.UUID(f["id"]))
            assert row is not None  # _attachment_segment loaded it into this session (get() finds it there)
            row.context_id, row.item_id = ctx.id, user_item.id
    session.add(query)
    _publish_state(session, query)
    _publish_item(session, ctx, user_item)
    _publish_item(session, ctx, assistant)
    return Submitted(query=query, user_item=user_item, assistant_item=assistant)


def regenerate(
    session: Session, owner_id: uuid.UUID, assistant_item_id: uuid.UUID | str, *, codegen_model_id: str | None = None
) -> Submitted:
    """Re-run the request behind an answer; a new answer is appended, linked to the old one (which stays)."""
    old = chats.get_item(session, owner_id, assistant_item_id)
    if old.role != ItemRole.assistant.value:
        raise InvalidInput("Only answers can be regenerated.")
    source = session.exec(select(Query).where(Query.assistant_item_id == old.id)).first()
    if source is None:
        source = session.exec(select(Query).where(Query.regenerates_item_id == old.id)).first()
    if source is None:
        raise InvalidInput("This answer has no request to run again.")
    ctx = chats.get_context(session, owner_id, old.context_id)
    conv = resolve_model(source.conversation_model_id, "conversation", ctx.conversation_model_id)
    code = resolve_model(codegen_model_id, "codegen", source.codegen_model_id or ctx.codegen_model_id)
    _lock_user(session, owner_id)
    _check_limits(session, owner_id)
    query = Query(
        owner_id=owner_id,
        context_id=ctx.id,
        user_item_id=source.user_item_id,
        regenerates_item_id=old.id,
        prompt=source.prompt,
        conversation_model_id=conv.id,
        codegen_model_id=code.id,
    )
    session.add(query)
    session.flush()
    assistant = chats.add_item(
        session, ctx, ItemRole.assistant, [segments.pending(str(query.id))], regenerated_from_id=old.id
    )
    query.assistant_item_id = assistant.id
    session.add(query)
    _publish_state(session, query)
    _publish_item(session, ctx, assistant)
    return Submitted(query=query, user_item=None, assistant_item=assistant)


def get_query(session: Session, owner_id: uuid.UUID, query_id: uuid.UUID | str) -> Query:
    q = session.get(Query, as_uuid(query_id, "request"))
    if q is None or q.owner_id != owner_id:
        raise NotFound("No such request.")
    return q


def status_view(q: Query) -> dict:
    return {
        "queryId": str(q.id),
        "contextId": str(q.context_id),
        "state": q.state,
        "detail": q.detail,
        "round": q.round,
        "userItemId": str(q.user_item_id) if q.user_item_id else None,
        "assistantItemId": str(q.assistant_item_id) if q.assistant_item_id else None,
        "conversationModelId": q.conversation_model_id,
        "codegenModelId": q.codegen_model_id,
        "inputTokens": q.input_tokens,
        "outputTokens": q.output_tokens,
        "costUsd": round(q.cost_usd, 6),
        "createdAt": q.created_at.isoformat(),
        "finishedAt": q.finished_at.isoformat() if q.finished_at else None,
    }


def cancel(session: Session, owner_id: uuid.UUID, query_id: uuid.UUID | str) -> Query:
    """Stop a running query; a finished one is left as it is."""
    q = get_query(session, owner_id, query_id)
    session.refresh(q, with_for_update=True)
    if q.state in {s.value for s in TERMINAL_STATES}:
        return q
    finish(session, q, QueryState.cancelled, "Stopped.", segments=[segments.error("cancelled", "Stopped.")])
    return q


def transition(session: Session, q: Query, state: QueryState, detail: str = "", *, round_: int | None = None) -> bool:
    """Move a running query to a new stage; False when it was cancelled meanwhile (the runner then stops)."""
    session.refresh(q, with_for_update=True)
    if q.state in {s.value for s in TERMINAL_STATES}:
        return False
    q.state, q.detail = state.value, detail
    if round_ is not None:
        q.round = round_
    session.add(q)
    _publish_state(session, q)
    return True


def finish(session: Session, q: Query, state: QueryState, detail: str, *, segments: list[segments.Segment]) -> None:
    """End a query: write its answer's segments and publish the final state and the updated item."""
    q.state, q.detail, q.finished_at, q.lease_expires_at = state.value, detail, utcnow(), None
    session.add(q)
    if q.assistant_item_id:
        item = session.get(ChatItem, q.assistant_item_id)
        if item is not None:
            item.segments = segments
            item.updated_at = utcnow()
            session.add(item)
            ctx = session.get(ChatContext, item.context_id)
            _publish_item(session, ctx, item)
    _publish_state(session, q)


def requeue(session: Session, q: Query, detail: str) -> None:
    """Put an interrupted query back in the queue (its runner starts it over)."""
    q.state, q.detail = QueryState.queued.value, detail
    session.add(q)
    _publish_state(session, q)


def _publish_state(session: Session, q: Query) -> None:
    session.flush()
    record_event(
        session,
        q.owner_id,
        ev.CHAT_QUERY_STATE,
        {
            "queryId": str(q.id),
            "contextId": str(q.context_id),
            "state": q.state,
            "round": q.round,
            "detail": q.detail[:500],
            "assistantItemId": str(q.assistant_item_id) if q.assistant_item_id else None,
        },
    )


def _publish_item(session: Session, ctx: ChatContext | None, item: ChatItem) -> None:
    if ctx is None:
        return
    record_item_updated(session, item)
