"""Run one query: conversation → codegen → render → repair, persisting every step.

The runner holds no state of its own between steps: each step reads and writes the query row, so a
restarted worker can pick a query up again (see `jobs.py`), and a cancel from another process is seen
at the next step.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from chat3d.db.engine import in_session
from chat3d.db.models import TERMINAL_STATES, ChatContext, ChatItem, ItemRole, Query, QueryState, utcnow
from chat3d.domain import chats, files, imports, requirements, review, segments, selection, versions
from chat3d.domain.errors import DomainError
from chat3d.llm import registry
from chat3d.llm.base import Completion, ImageInput, Message, ProviderError, Usage
from chat3d.llm.codeblock import extract_code
from chat3d.llm.prompts import load_prompt
from chat3d.llm.tools import CREATE_3D_MODEL, REPORT_REVIEW
from chat3d.pipeline import live, prompting, rendering
from chat3d.pipeline.queries import finish, transition
from chat3d.pipeline.rendering import MODEL_FORMATS, VIEWS_FORMAT
from chat3d.services.render_client import RenderClient, RenderFailure, RenderSuccess, RenderUnavailable
from chat3d.settings import get_settings

log = logging.getLogger("chat3d.pipeline")


class Stopped(Exception):
    """The query was cancelled (or finished elsewhere) while this step ran."""


@dataclass
class RunContext:
    query_id: uuid.UUID
    owner_id: uuid.UUID
    context_id: uuid.UUID
    prompt: str
    units: str
    conversation_model: str
    codegen_model: str
    history: list[Message]
    prompt_images: list[ImageInput]
    previous_code: str | None
    # Files the current version's program reads (an imported STEP/STL): refs stored with the new version,
    # and their bytes, attached to every render of this query.
    input_refs: list[segments.InputRef] = field(default_factory=list)
    input_files: list[tuple[str, bytes]] = field(default_factory=list)
    usage_in: int = 0
    usage_out: int = 0
    cost: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    selection_text: str = ""  # the faces/edges the user pointed at (chat3d/domain/selection.py), or ""
    reviewer: str | None = None  # the vision model reviewing the rendered views (issue 23 item 2), if any
    reviews: int = 0  # reviews made (each a vision call, counted in tokens and cost)


def _load(session: Session, query_id: uuid.UUID, worker_id: str) -> RunContext | None:
    """Claim a queued query (only one worker can: the row is locked and must still be `queued`)."""
    q = session.get(Query, query_id, with_for_update=True)
    if q is None or q.state != QueryState.queued.value:
        return None  # already claimed by another worker, finished or cancelled
    settings = get_settings()
    q.attempts += 1
    q.worker_id = worker_id
    q.started_at = q.started_at or utcnow()
    q.lease_expires_at = utcnow() + timedelta(seconds=settings.query_lease_s)
    q.round, q.input_tokens, q.output_tokens, q.cost_usd = 0, 0, 0, 0.0
    session.add(q)
    session.flush()  # transition() re-reads the row
    transition(session, q, QueryState.conversation, "Reading your request")
    ctx = session.get(ChatContext, q.context_id)
    assert ctx is not None  # q is locked, and deleting its chat would delete it (ON DELETE CASCADE) too
    user_item = session.get(ChatItem, q.user_item_id) if q.user_item_id else None
    cutoff = user_item.created_at if user_item else q.created_at
    past = [i for i in chats.history(session, ctx, before=cutoff) if not segments.is_pending(i.segments)]
    from chat3d.domain import model_settings

    defaults = model_settings.load(session).defaults
    conversation_model = q.conversation_model_id or defaults["conversation"]
    # Images go only to models that can see them; others are told an image was attached.
    images = _images_for(session, past + ([user_item] if user_item else [])) if _sees_images(conversation_model) else {}
    # The chat's current version: the newest, or the one the user restored/edited into (chat3d.domain.versions).
    base = versions.current_version(session, ctx, before=cutoff)
    base_model = versions.model_of(base) if base is not None else None
    previous_code = (base_model.get("code") or None) if base_model else None
    input_refs = imports.inputs_of(base_model)
    try:
        input_files = imports.load_inputs(session, q.owner_id, input_refs) if input_refs else []
    except DomainError:  # the imported file is gone: the render then names the missing file
        input_files = []
    if previous_code is None:
        previous_code = next(
            (
                m.get("code")
                for i in reversed(past)
                if i.role == ItemRole.assistant.value and (m := segments.model_of(i.segments)) and m.get("code")
            ),
            None,
        )
    said = user_item.segments if user_item else []
    attached = segments.attached_ids(said)
    prompt_images = [images[fid] for fid in attached if fid in images]
    prompt = q.prompt
    if attached and not prompt_images:
        prompt += f"\n\n[The user attached {len(attached)} image(s), which this model cannot see.]"
    picked: segments.SelectionSegment | None = segments.find(said, segments.SELECTION)
    selection_text = selection.context_text(picked.get("items") or []) if picked else ""
    if selection_text:  # issue 27: what the user pointed at, as rows and selectors, for both models
        prompt += "\n\n" + selection_text
    return RunContext(
        query_id=q.id,
        owner_id=q.owner_id,
        context_id=q.context_id,
        prompt=prompt,
        units=ctx.units,
        conversation_model=conversation_model,
        codegen_model=q.codegen_model_id or defaults["codegen"],
        history=prompting.history_messages(past, images),
        prompt_images=prompt_images,
        previous_code=previous_code,
        input_refs=input_refs,
        input_files=input_files,
        selection_text=selection_text,
    )


def _sees_images(model_id: str) -> bool:
    try:
        return registry.get_model(model_id, get_settings()).vision
    except LookupError:
        return False


def reviewer_for(conversation_model: str, codegen_model: str) -> str | None:
    """The model that reviews the rendered views: the chat's conversation model when it has vision (it read
    the request), else its code model when that has; None (no review) when neither can see images or
    REVIEW_ROUNDS is 0. The offline models have no vision, so offline chats are never reviewed."""
    if get_settings().review_rounds <= 0:
        return None
    return next((m for m in (conversation_model, codegen_model) if _sees_images(m)), None)


def _images_for(session: Session, items: list[ChatItem]) -> dict[str, ImageInput]:
    out: dict[str, ImageInput] = {}
    for item in items:
        for file_id in segments.attached_ids(item.segments):
            try:
                row = files.get_file(session, item.owner_id, file_id)
                out[file_id] = ImageInput(row.content_type, files.read_bytes(row))
            except Exception:  # a deleted attachment is simply left out
                continue
    return out


class QueryRunner:
    """Executes one query end to end; `render` is injectable for tests and benchmarks."""

    def __init__(self, *, worker_id: str = "in-process", render: RenderClient | None = None):
        self.worker_id = worker_id
        self.render_client = render or RenderClient()

    async def run(self, query_id: uuid.UUID) -> None:
        started = time.perf_counter()
        rc = await in_session(lambda s: _load(s, query_id, self.worker_id))
        if rc is None:
            return
        heartbeat = asyncio.create_task(self._keep_lease(query_id))
        try:
            await self._run(rc)
        except Stopped:
            log.info("query %s stopped", query_id)
        except ProviderError as exc:
            await self._fail(rc, f"The language model failed: {exc}", kind=f"model_{exc.kind}")
        except RenderUnavailable as exc:
            await self._fail(rc, str(exc), kind="render_unavailable")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("query %s crashed", query_id)
            await self._fail(rc, "Something went wrong on our side while answering; try again.", kind="internal")
        finally:
            heartbeat.cancel()
            log.info("query %s done in %.2fs", query_id, time.perf_counter() - started)

    async def _keep_lease(self, query_id: uuid.UUID) -> None:
        """Extend the lease while this worker is alive, so only a dead worker's queries look orphaned."""
        lease = get_settings().query_lease_s

        def extend(session: Session) -> None:
            q = session.get(Query, query_id)
            if q is not None and q.state not in {s.value for s in TERMINAL_STATES}:
                q.lease_expires_at = utcnow() + timedelta(seconds=lease)
                session.add(q)

        while True:
            await asyncio.sleep(lease / 3)
            try:
                await in_session(extend)
            except Exception:  # the next beat tries again; the lease has slack
                log.warning("could not extend the lease of query %s", query_id)

    # --- steps -------------------------------------------------------------------------------

    async def _step(self, rc: RunContext, state: QueryState, detail: str = "", round_: int | None = None) -> None:
        lease = get_settings().query_lease_s

        def apply(session: Session) -> bool:
            q = session.get(Query, rc.query_id)
            if q is None:  # its chat was deleted meanwhile (the query with it): stop, as for a cancel
                return False
            ok = transition(session, q, state, detail, round_=round_)
            if ok:
                q.lease_expires_at = utcnow() + timedelta(seconds=lease)
                q.input_tokens, q.output_tokens, q.cost_usd = rc.usage_in, rc.usage_out, rc.cost
            return ok

        if not await in_session(apply):
            raise Stopped()

    async def _complete(self, rc: RunContext, model_id: str, **kwargs: Any) -> Completion:
        from chat3d.domain import model_settings

        # Read on every call: a credential removed in the admin console stops the query here, clearly.
        config = await in_session(model_settings.load)
        settings = config.settings
        spec = registry.get_model(model_id, settings)
        model_settings.check_usable(spec, config)
        provider = registry.get_provider(spec, settings)
        completion = await provider.complete(model=spec.model, timeout_s=settings.llm_timeout_s, **kwargs)
        rc.usage_in += completion.usage.input_tokens
        rc.usage_out += completion.usage.output_tokens
        rc.cost += registry.cost_usd(spec, Usage(completion.usage.input_tokens, completion.usage.output_tokens))
        return completion

    async def _run(self, rc: RunContext) -> None:
        qid = str(rc.query_id)
        streamed: list[str] = []

        def on_text(delta: str) -> None:
            streamed.append(delta)
            live.publish_text(qid, "".join(streamed))

        t0 = time.perf_counter()
        conversation = await self._complete(
            rc,
            rc.conversation_model,
            system=prompting.conversation_system(rc.units, rc.previous_code),
            messages=[*rc.history, Message("user", rc.prompt, images=rc.prompt_images)],
            tools=[CREATE_3D_MODEL],
            on_text=on_text,
        )
        rc.timings["conversation_s"] = time.perf_counter() - t0
        call = next((c for c in conversation.tool_calls if c.name == CREATE_3D_MODEL.name), None)
        text = conversation.text.strip()
        if call is None:
            await self._finish(rc, [segments.text(text or "Could you tell me more about the part?")])
            return
        brief, expected = prompting.parse_tool_arguments(call.arguments)
        if not brief:
            brief = rc.prompt
        await self._model_loop(rc, text, call.id, call.arguments, brief, expected)

    async def _model_loop(
        self, rc: RunContext, text: str, call_id: str, arguments: dict, brief: str, expected: list[float] | None
    ) -> None:
        settings = get_settings()
        max_rounds = settings.max_repair_rounds
        request = prompting.codegen_request(brief, expected, rc.previous_code, [r["name"] for r in rc.input_refs])
        if rc.selection_text:
            request += "\n\n" + rc.selection_text
        messages = [Message("user", request)]
        system = load_prompt("codegen_system")
        geometry_repaired = False
        round_ = 0
        wanted = requirements.normalise(arguments.get("requirements"))  # issue 23: checked on each built part
        requirement_rounds = 0
        rc.reviewer = reviewer_for(rc.conversation_model, rc.codegen_model)
        formats = (*MODEL_FORMATS, VIEWS_FORMAT) if rc.reviewer else MODEL_FORMATS
        review_repairs, corrected = 0, []  # repair rounds the review caused, and the problems they fixed
        reviewed: tuple | None = None  # the last reviewed part with problems: delivered if its correction fails
        await self._step(rc, QueryState.codegen, "Writing the program", round_=0)
        rc.timings["codegen_s"] = rc.timings["render_s"] = 0.0
        while True:
            t0 = time.perf_counter()
            completion = await self._complete(rc, rc.codegen_model, system=system, messages=messages)
            rc.timings["codegen_s"] += time.perf_counter() - t0
            code = extract_code(completion.text)
            messages.append(Message("assistant", completion.text))
            if not code.strip():
                failure: RenderFailure | None = RenderFailure(kind="no_code", message="The model returned no program.")
                result = None
            else:
                await self._step(
                    rc,
                    QueryState.rendering,
                    "Rendering the model" + (f" (repair {round_})" if round_ else ""),
                    round_=round_,
                )
                t0 = time.perf_counter()
                result = await rendering.render(
                    self.render_client, code, owner_id=rc.owner_id, formats=formats, inputs=rc.input_files
                )
                rc.timings["render_s"] += time.perf_counter() - t0
                failure = result if isinstance(result, RenderFailure) else None
            if isinstance(result, RenderSuccess):
                actual = result.metrics.get("bbox_size_mm")
                mismatch = prompting.bbox_mismatch(
                    expected, actual, settings.geometry_tolerance_pct, settings.geometry_tolerance_mm
                )
                if mismatch and not geometry_repaired and round_ < max_rounds:
                    # bbox_mismatch is True only with both sizes given
                    assert expected is not None and actual is not None
                    geometry_repaired = True
                    round_ += 1
                    await self._step(
                        rc, QueryState.repairing, "The size did not match the brief; correcting it", round_=round_
                    )
                    messages.append(Message("user", prompting.geometry_repair_request(expected, actual, code)))
                    continue
                checks = requirements.check(wanted, result.metrics)
                if (
                    requirements.failed(checks)
                    and requirement_rounds < settings.requirement_repair_rounds
                    and round_ < max_rounds
                ):
                    requirement_rounds += 1
                    round_ += 1
                    missed = ", ".join(r["label"] for r in requirements.failed(checks))
                    await self._step(
                        rc, QueryState.repairing, f"Not yet as asked ({missed}); correcting it"[:300], round_=round_
                    )
                    messages.append(Message("user", requirements.repair_request(checks, code)))
                    continue
                warnings = ["The bounding box differs from the brief's expected size."] if mismatch else []
                verdict = await self._review(rc, brief, checks, result, round_) if rc.reviewer else None
                if (
                    verdict
                    and verdict["verdict"] == "problems"
                    and review_repairs < settings.review_rounds
                    and round_ < max_rounds
                ):
                    review_repairs += 1
                    corrected = verdict["problems"]
                    reviewed = (code, result, list(warnings), checks, verdict, requirement_rounds)
                    round_ += 1
                    await self._step(
                        rc,
                        QueryState.repairing,
                        ("The review of the views found problems: " + "; ".join(verdict["problems"]))[:300],
                        round_=round_,
                    )
                    messages.append(Message("user", review.repair_request(verdict["problems"], code)))
                    continue
                seen = self._review_record(rc, verdict, review_repairs, corrected)
                note = " ".join(
                    n for n in (requirements.reply_note(checks, requirement_rounds), review.reply_note(seen)) if n
                )
                await self._store_model(
                    rc,
                    f"{text}\n\n{note}".strip() if note else text,
                    call_id,
                    arguments,
                    brief,
                    expected,
                    code,
                    result,
                    round_,
                    warnings,
                    checks,
                    wanted,
                    seen,
                )
                return
            assert failure is not None
            if round_ >= max_rounds and reviewed is not None:
                # The review's correction never built: deliver the reviewed part, with what the review saw.
                code, result, warnings, checks, verdict, req_rounds = reviewed
                seen = self._review_record(rc, verdict, review_repairs, [])
                note = " ".join(
                    n
                    for n in (
                        requirements.reply_note(checks, req_rounds),
                        review.reply_note(seen),
                        f"Its correction did not build ({failure.message}).",
                    )
                    if n
                )
                await self._store_model(
                    rc,
                    f"{text}\n\n{note}".strip(),
                    call_id,
                    arguments,
                    brief,
                    expected,
                    code,
                    result,
                    round_,
                    warnings,
                    checks,
                    wanted,
                    seen,
                )
                return
            if round_ >= max_rounds:
                where = f" (line {failure.line})" if failure.line else ""
                await self._fail(
                    rc,
                    f"The model could not be built after {round_ + 1} attempts: {failure.message}{where}",
                    kind=failure.kind,
                    code=code,
                    text=text,
                )
                return
            round_ += 1
            await self._step(rc, QueryState.repairing, f"Fixing: {failure.message}"[:300], round_=round_)
            messages.append(Message("user", prompting.repair_request(failure, code)))

    async def _review(self, rc: RunContext, brief: str, checks: list[dict], result: RenderSuccess, round_: int) -> dict:
        """One review of a built part's views by the vision model; never fails the query (a model error or
        missing views give a "not_reviewed" verdict and the part is delivered)."""
        views = next((f for f in result.files if f.format == VIEWS_FORMAT), None)
        if views is None:
            return {"verdict": "not_reviewed", "problems": [], "reason": "the render made no views"}
        await self._step(rc, QueryState.rendering, "Reviewing the rendered views", round_=round_)
        t0 = time.perf_counter()
        assert rc.reviewer is not None  # _model_loop reviews only when the query has a reviewer
        rc.reviews += 1
        try:
            completion = await self._complete(
                rc,
                rc.reviewer,
                system=review.SYSTEM,
                tools=[REPORT_REVIEW],
                max_tokens=1024,
                messages=[
                    Message(
                        "user",
                        review.request_text(brief, checks, result.metrics.get("bbox_size_mm")),
                        images=[ImageInput("image/png", views.data)],
                    )
                ],
            )
        except ProviderError as exc:
            return {"verdict": "not_reviewed", "problems": [], "reason": f"the review failed: {exc.message}"}
        finally:
            rc.timings["review_s"] = rc.timings.get("review_s", 0.0) + time.perf_counter() - t0
        call = next((c for c in completion.tool_calls if c.name == REPORT_REVIEW.name), None)
        return review.parse_verdict(call.arguments if call else None, completion.text)

    @staticmethod
    def _review_record(rc: RunContext, verdict: dict | None, repairs: int, corrected: list[str]) -> dict | None:
        if verdict is None or rc.reviewer is None:
            return None
        return review.record(rc.reviewer, verdict, rc.reviews, repairs, corrected)

    # --- endings -----------------------------------------------------------------------------

    def _run_segment(self, rc: RunContext, round_: int) -> segments.RunSegment:
        return segments.run(
            query_id=str(rc.query_id),
            rounds=round_,
            models={
                "conversation": rc.conversation_model,
                "codegen": rc.codegen_model,
                **({"review": rc.reviewer} if rc.reviewer else {}),
            },
            review_rounds=rc.reviews,  # vision reviews of the rendered views (issue 23 item 2)
            input_tokens=rc.usage_in,
            output_tokens=rc.usage_out,
            cost_usd=rc.cost,
            timings=rc.timings,
        )

    async def _store_model(
        self,
        rc,
        text,
        call_id,
        arguments,
        brief,
        expected,
        code,
        result: RenderSuccess,
        round_,
        warnings,
        checks: list[dict] | None = None,
        wanted: list[dict] | None = None,
        seen: dict | None = None,
    ) -> None:
        def same_as_regenerated(session: Session) -> int:
            q = session.get(Query, rc.query_id)
            return versions.identical_version(session, q.regenerates_item_id, code) if q is not None else 0

        same = await in_session(same_as_regenerated)
        if same:  # a regeneration that wrote the very same program: say so, store no copy (issue 26 item 10)
            await self._finish(
                rc,
                [
                    segments.text(
                        f"Regenerating wrote exactly the same program as Version {same} (the code model "
                        f"{rc.codegen_model} answers the same request the same way), so no new version was stored. "
                        "Reword the request, or regenerate with another code model."
                    )
                ],
            )
            return

        def store(session: Session, written: rendering.Written) -> bool | None:
            q = session.get(Query, rc.query_id, with_for_update=True)
            if q is None or q.state in {s.value for s in TERMINAL_STATES}:
                return None  # cancelled (or its chat deleted) meanwhile: the written files belong to nobody
            refs = written.record(session, context_id=rc.context_id, item_id=q.assistant_item_id, query_id=q.id)
            q.round, q.input_tokens, q.output_tokens, q.cost_usd = round_, rc.usage_in, rc.usage_out, rc.cost
            rows = [*(checks or []), *filter(None, [review.checklist_row(seen)])]
            answer: list[segments.Segment] = [
                segments.text(text or "Here is your model."),
                segments.model(
                    files=refs,
                    metrics=result.metrics,
                    code=code,
                    brief=brief,
                    expected_bbox_mm=expected,
                    call=segments.tool_call(call_id, arguments),
                    warnings=warnings,
                    inputs=rc.input_refs,
                    # issue 23: the checklist, per requirement, and what it checked (re-checked on slider changes)
                    requirements=rows,
                    requirement_spec=wanted,
                    # issue 23 item 2: the review of the rendered views (verdict about this part); what it saw is
                    # the `views` file among `files` (a fork remaps file ids there)
                    review=seen,
                ),
                self._run_segment(rc, round_),
            ]
            finish(session, q, QueryState.completed, "Done", segments=answer)
            return True

        await rendering.store(rc.owner_id, result, store)

    async def _finish(self, rc: RunContext, answer: list[segments.Segment]) -> None:
        def apply(session: Session) -> None:
            q = session.get(Query, rc.query_id, with_for_update=True)
            if q is None or q.state in {s.value for s in TERMINAL_STATES}:  # None: its chat was deleted meanwhile
                return
            q.input_tokens, q.output_tokens, q.cost_usd = rc.usage_in, rc.usage_out, rc.cost
            finish(session, q, QueryState.completed, "Done", segments=[*answer, self._run_segment(rc, 0)])

        await in_session(apply)

    async def _fail(self, rc: RunContext, message: str, *, kind: str, code: str | None = None, text: str = "") -> None:
        def apply(session: Session) -> None:
            q = session.get(Query, rc.query_id, with_for_update=True)
            if q is None or q.state in {s.value for s in TERMINAL_STATES}:  # None: its chat was deleted meanwhile
                return
            q.input_tokens, q.output_tokens, q.cost_usd = rc.usage_in, rc.usage_out, rc.cost
            answer: list[segments.Segment] = [segments.text(text)] if text else []
            answer.append(segments.error(kind, message, retryable=True, code=code))
            answer.append(self._run_segment(rc, q.round))
            finish(session, q, QueryState.failed, message, segments=answer)

        await in_session(apply)
