"""Issue 23 item 2, the rendered-view review, through each provider's real SDK against a local server speaking
its wire protocol (the real render service draws the views): the review request carries the views as real PNG
pictures in the SDK's native image format plus the requirements; a "problems" verdict costs exactly one more
round (REVIEW_ROUNDS=1), a "pass" none; REVIEW_ROUNDS=0 and a model without vision send no review.

The conversation turn is scripted (no vision); the code model is the vision model on the fake server, so it
writes the program and reviews the views (the conversation model reviews when it has vision: reviewer_for)."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from chat3d.db.engine import session_scope
from chat3d.db.models import StoredFile
from chat3d.domain import chats
from chat3d.llm.base import Completion, ToolCall, Usage
from chat3d.pipeline.runner import reviewer_for
from chat3d.settings import reset_settings_cache
from tests.llm.llm_fakes import FakeLLMServer, Reply, serving
from tests.pipeline.conftest import query_states
from tests.pipeline.test_runner import run, submit
from tests.support.scripted_llm import CONVERSATION_ID

PLATE = "from build123d import *\nwith BuildPart() as p:\n    Box(80, 40, 5)\n{holes}result = p.part\n"
NO_HOLES = PLATE.format(holes="")
TWO_HOLES = PLATE.format(holes="    with Locations((-20, 0), (20, 0)):\n        Hole(3)\n")
WANTED = [{"kind": "size", "value": [80, 40, 5], "source": "stated"},
          {"kind": "feature", "label": "two mounting holes on the long axis", "source": "stated"}]
PROBLEM = "The two mounting holes are missing: add two Ø6 through holes at x = ±20 mm"

# vendor -> (model id, environment for the SDK client; {url} is the fake server)
VENDORS = {
    "openai": ("gpt-4.1", {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "{url}/v1"}),
    "xai": ("grok-4", {"XAI_API_KEY": "xai-test", "XAI_BASE_URL": "{url}/v1"}),
    "anthropic": ("claude-sonnet-4-5", {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": "{url}"}),
    "ollama": ("llava-test", {"OLLAMA_BASE_URL": "{url}"}),
}


def _code_text(code: str) -> str:
    return f"Here it is.\n```python\n{code}```"


def wire_text(vendor: str, text: str) -> Reply:
    """A non-streamed text answer in the vendor's protocol."""
    if vendor in ("openai", "xai"):
        return Reply(body={"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                        "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 300, "completion_tokens": 90, "total_tokens": 390}})
    if vendor == "anthropic":
        return Reply(body={"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                           "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                           "stop_sequence": None, "usage": {"input_tokens": 300, "output_tokens": 90}})
    return Reply(body={"model": "llava", "created_at": "2025-01-01T00:00:00Z", "done": True, "done_reason": "stop",
                       "message": {"role": "assistant", "content": text}, "prompt_eval_count": 300, "eval_count": 90})


def wire_verdict(vendor: str, verdict: str, problems: list[str]) -> Reply:
    """The reviewer's report_review tool call in the vendor's protocol."""
    args = {"verdict": verdict, "problems": problems}
    if vendor in ("openai", "xai"):
        call = {"id": "call_r", "type": "function", "function": {"name": "report_review", "arguments": json.dumps(args)}}
        return Reply(body={"id": "c2", "object": "chat.completion", "created": 1, "model": "m",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": None,
                                                                "tool_calls": [call]}, "finish_reason": "tool_calls"}],
                           "usage": {"prompt_tokens": 1000, "completion_tokens": 40, "total_tokens": 1040}})
    if vendor == "anthropic":
        return Reply(body={"id": "msg_2", "type": "message", "role": "assistant", "model": "m",
                           "content": [{"type": "tool_use", "id": "toolu_r", "name": "report_review", "input": args}],
                           "stop_reason": "tool_use", "stop_sequence": None,
                           "usage": {"input_tokens": 1000, "output_tokens": 40}})
    return Reply(body={"model": "llava", "created_at": "2025-01-01T00:00:00Z", "done": True, "done_reason": "stop",
                       "message": {"role": "assistant", "content": "",
                                   "tool_calls": [{"function": {"name": "report_review", "arguments": args}}]},
                       "prompt_eval_count": 1000, "eval_count": 40})


def sent_images(vendor: str, body: dict) -> list[bytes]:
    """The image bytes a request carried, read from the vendor's own image format."""
    out = []
    for m in body["messages"]:
        if vendor in ("openai", "xai") and isinstance(m.get("content"), list):
            for part in m["content"]:
                if part["type"] == "image_url":
                    head, data = part["image_url"]["url"].split(",", 1)
                    assert head == "data:image/png;base64"
                    out.append(base64.b64decode(data))
        elif vendor == "anthropic" and isinstance(m.get("content"), list):
            for block in m["content"]:
                if block["type"] == "image":
                    assert block["source"]["type"] == "base64" and block["source"]["media_type"] == "image/png"
                    out.append(base64.b64decode(block["source"]["data"]))
        elif vendor == "ollama":
            out += [base64.b64decode(i) for i in m.get("images") or []]
    return out


def sent_text(body: dict) -> str:
    parts = []
    for m in body["messages"]:
        content = m.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [b.get("text", "") for b in content if isinstance(b, dict)]
    return "\n".join(parts + ([body["system"]] if isinstance(body.get("system"), str) else []))


def sent_tools(body: dict) -> list[str]:
    return [t.get("name") or t["function"]["name"] for t in body.get("tools") or []]


def conversation_call() -> Completion:
    args = {"brief": "An 80 x 40 x 5 mm plate with two mounting holes on the long axis",
            "expected_bbox_mm": [80, 40, 5], "units": "mm", "requirements": WANTED}
    return Completion("Modelling it.", [ToolCall("call_1", "create_3d_model", args)], Usage(100, 20), CONVERSATION_ID,
                      "tool_calls")


@pytest.fixture(scope="module")
def llm_server():
    with serving(FakeLLMServer()) as fake:
        yield fake


@pytest.fixture
def vision(request, llm_server, scripted, monkeypatch, tmp_path):
    """The vendor's vision model on the fake server as the code model; returns (vendor, model id, fake)."""
    vendor = request.param
    model_id, env = VENDORS[vendor]
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(url=llm_server.url))
    if vendor == "ollama":
        models = tmp_path / "models.json"
        models.write_text(json.dumps([{"id": model_id, "provider": "ollama", "model": "llava", "vision": True}]), encoding="utf-8")
        monkeypatch.setenv("LLM_MODELS_FILE", str(models))
    reset_settings_cache()
    llm_server.reset()
    yield vendor, model_id, llm_server
    llm_server.reset()


def _review_requests(fake: FakeLLMServer) -> list:
    return [r for r in fake.received if "report_review" in sent_tools(r.body)]


def _views_of(item) -> bytes:
    model = chats.model_segment(item)
    with session_scope() as s:
        from chat3d.domain.files import absolute_path
        ref = next(f for f in model["files"] if f["format"] == "views")
        row = s.get(StoredFile, __import__("uuid").UUID(ref["id"]))
        assert row.content_type == "image/png"  # served inline to the thread's "what the reviewer saw"
        return absolute_path(row).read_bytes()


@pytest.mark.parametrize("vision", list(VENDORS), indirect=True)
async def test_problems_from_the_review_cost_exactly_one_more_round(owner, scripted, vision) -> None:
    vendor, model_id, fake = vision
    scripted.conversation.append(conversation_call())
    fake.queue(wire_text(vendor, _code_text(NO_HOLES)), wire_verdict(vendor, "problems", [PROBLEM]),
               wire_text(vendor, _code_text(TWO_HOLES)), wire_verdict(vendor, "pass", []))
    qid, _ = submit(owner, "an 80 x 40 x 5 plate with two mounting holes on the long axis", codegen_model_id=model_id)
    q, item = await run(qid)
    assert q.state == "completed" and q.round == 1, q.detail
    assert len(fake.received) == 4 and not fake.replies  # code, review, code again, review of the corrected part

    first, second = _review_requests(fake)
    for req in (first, second):
        images = sent_images(vendor, req.body)
        assert len(images) == 1
        with Image.open(io.BytesIO(images[0])) as im:  # a real picture: the four views of an 80 x 40 plate
            assert im.format == "PNG" and im.size[0] == im.size[1] >= 512
            pixels = np.asarray(im.convert("RGB"))
        assert (pixels[..., 0] < 200).mean() > 0.05  # the part covers a good share of the sheet
        text = sent_text(req.body)
        assert "80 × 40 × 5 mm" in text and "two mounting holes on the long axis" in text  # the requirements
    # The repair request names what the reviewer saw; the second picture differs (the holes are there now).
    repair = sent_text(fake.received[2].body)
    assert PROBLEM in repair and "Box(80, 40, 5)" in repair
    assert sent_images(vendor, first.body) != sent_images(vendor, second.body)

    model = chats.model_segment(item)
    assert model["code"] == TWO_HOLES
    assert model["review"] == {"model": model_id, "verdict": "pass", "problems": [], "reviews": 2, "repairs": 1,
                               "corrected": [PROBLEM]}
    assert _views_of(item) == sent_images(vendor, second.body)[0]  # what the reviewer saw is kept with the version
    assert model["requirements"][-1] == {"kind": "review", "label": "view review", "source": "review",
                                         "status": "pass", "detail": ""}
    assert "corrected in 1 repair round" in item.segments[0]["text"] and PROBLEM in item.segments[0]["text"]
    run_seg = next(s for s in item.segments if s["type"] == "run")
    assert run_seg["reviewRounds"] == 2 and run_seg["models"]["review"] == model_id
    assert run_seg["usage"] == {"inputTokens": 100 + 2 * 300 + 2 * 1000, "outputTokens": 20 + 2 * 90 + 2 * 40}
    assert run_seg["timings"]["review_s"] > 0
    assert ("repairing", 1) in query_states(owner[0], qid)


@pytest.mark.parametrize("vision", ["openai", "anthropic"], indirect=True)
async def test_a_pass_costs_no_round_and_the_budget_bounds_the_problems(owner, scripted, vision, monkeypatch) -> None:
    vendor, model_id, fake = vision
    scripted.conversation += [conversation_call(), conversation_call()]
    fake.queue(wire_text(vendor, _code_text(TWO_HOLES)), wire_verdict(vendor, "pass", []))
    qid, _ = submit(owner, "a plate", codegen_model_id=model_id)
    q, item = await run(qid)
    assert q.state == "completed" and q.round == 0 and len(fake.received) == 2
    assert chats.model_segment(item)["requirements"][-1]["status"] == "pass"
    assert item.segments[0]["text"] == "Modelling it."

    # Problems every time: one repair round (REVIEW_ROUNDS=1), then the part is delivered with its ✗.
    fake.reset()
    fake.queue(wire_text(vendor, _code_text(NO_HOLES)), wire_verdict(vendor, "problems", [PROBLEM]),
               wire_text(vendor, _code_text(NO_HOLES.replace("80", "80.0"))), wire_verdict(vendor, "problems", [PROBLEM]))
    qid, _ = submit(owner, "a plate", codegen_model_id=model_id)
    q, item = await run(qid)
    assert q.state == "completed" and q.round == 1 and len(fake.received) == 4 and not fake.replies
    model = chats.model_segment(item)
    assert model["review"]["verdict"] == "problems" and model["review"]["problems"] == [PROBLEM]
    assert model["requirements"][-1]["status"] == "fail" and model["requirements"][-1]["detail"] == PROBLEM
    assert item.segments[0]["text"].endswith(f"still sees problems after 1 repair round: {PROBLEM}.")


@pytest.mark.parametrize("vision", ["ollama"], indirect=True)
async def test_review_rounds_zero_sends_no_review_and_no_views(owner, scripted, vision, monkeypatch) -> None:
    vendor, model_id, fake = vision
    monkeypatch.setenv("REVIEW_ROUNDS", "0")
    reset_settings_cache()
    scripted.conversation.append(conversation_call())
    fake.queue(wire_text(vendor, _code_text(NO_HOLES)))
    qid, _ = submit(owner, "a plate", codegen_model_id=model_id)
    q, item = await run(qid)
    assert q.state == "completed" and q.round == 0
    assert len(fake.received) == 1 and not _review_requests(fake) and not sent_images(vendor, fake.received[0].body)
    model = chats.model_segment(item)
    assert "review" not in model and all(r["kind"] != "review" for r in model["requirements"])
    assert "views" not in {f["format"] for f in model["files"]}
    assert next(s for s in item.segments if s["type"] == "run")["reviewRounds"] == 0


def test_the_reviewer_is_the_first_model_that_sees(pipeline_env, monkeypatch) -> None:
    monkeypatch.setenv("REVIEW_ROUNDS", "1")
    reset_settings_cache()
    assert reviewer_for("gpt-4.1", "claude-sonnet-4-5") == "gpt-4.1"  # the conversation model, which read the request
    assert reviewer_for("offline-conversation", "claude-sonnet-4-5") == "claude-sonnet-4-5"
    assert reviewer_for("offline-conversation", "offline-templates") is None  # offline: no vision, no review
    assert reviewer_for("llama3.1", "llama3.1") is None
    monkeypatch.setenv("REVIEW_ROUNDS", "0")
    reset_settings_cache()
    assert reviewer_for("gpt-4.1", "gpt-4.1") is None


@pytest.mark.parametrize("vision", ["openai"], indirect=True)
async def test_a_failed_review_or_correction_still_delivers_the_part(owner, scripted, vision, monkeypatch) -> None:
    vendor, model_id, fake = vision
    monkeypatch.setenv("MAX_REPAIR_ROUNDS", "1")
    reset_settings_cache()
    scripted.conversation += [conversation_call(), conversation_call()]
    # The reviewer's API refuses the request: the part is delivered and its row says it was not reviewed.
    fake.queue(wire_text(vendor, _code_text(NO_HOLES)),
               Reply(400, {"error": {"message": "image too large", "type": "invalid_request_error"}}))
    q, item = await run(submit(owner, "a plate", codegen_model_id=model_id)[0])
    assert q.state == "completed" and q.round == 0, q.detail
    model = chats.model_segment(item)
    assert model["review"]["verdict"] == "not_reviewed" and "image too large" in model["review"]["reason"]
    assert model["requirements"][-1]["status"] == "not_checkable" and model["code"] == NO_HOLES

    # Problems, then a correction that does not build within MAX_REPAIR_ROUNDS=1: the reviewed part is delivered.
    fake.reset()
    fake.queue(wire_text(vendor, _code_text(NO_HOLES)), wire_verdict(vendor, "problems", [PROBLEM]),
               wire_text(vendor, _code_text("from build123d import *\nresult = Box(1, 1\n")))
    q, item = await run(submit(owner, "a plate", codegen_model_id=model_id)[0])
    assert q.state == "completed" and q.round == 1 and not fake.replies, q.detail
    model = chats.model_segment(item)
    assert model["code"] == NO_HOLES and model["review"]["verdict"] == "problems"
    assert PROBLEM in item.segments[0]["text"] and "Its correction did not build" in item.segments[0]["text"]
