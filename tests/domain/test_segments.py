"""Issue 25: the typed segments write the JSON stored before they existed, and read what was stored then."""

from __future__ import annotations

import json

from chat3d.domain import segments

# A prompt's answer as the runner stored it before chat3d/domain/segments.py (key order as written then).
STORED_ANSWER = [
    {"type": "text", "text": "Here is your model."},
    {"type": "model", "files": [{"id": "f1", "format": "glb", "filename": "model.glb", "size": 10}],
     "metrics": {"bbox_size_mm": [1.0, 2.0, 3.0]}, "code": "result = 1", "brief": "a box",
     "expectedBboxMm": [1.0, 2.0, 3.0], "toolCall": {"id": "c1", "arguments": {"brief": "a box"}}, "warnings": [],
     "inputs": [{"id": "u1", "name": "x.step", "format": "step", "filename": "x.step", "size": 5}],
     "requirements": [{"label": "size", "status": "pass"}], "requirementSpec": [{"kind": "size"}],
     "review": {"verdict": "pass"}},
    {"type": "run", "queryId": "q1", "rounds": 1, "models": {"conversation": "a", "codegen": "b"}, "reviewRounds": 1,
     "usage": {"inputTokens": 3, "outputTokens": 4}, "costUsd": 0.5, "timings": {"render_s": 1.25}},
]


def test_builders_write_the_json_stored_before():
    answer = [
        segments.text("Here is your model."),
        segments.model(files=[{"id": "f1", "format": "glb", "filename": "model.glb", "size": 10}],
                       metrics={"bbox_size_mm": [1.0, 2.0, 3.0]}, code="result = 1", brief="a box",
                       expected_bbox_mm=[1.0, 2.0, 3.0], call=segments.tool_call("c1", {"brief": "a box"}),
                       inputs=[{"id": "u1", "name": "x.step", "format": "step", "filename": "x.step", "size": 5}],
                       requirements=[{"label": "size", "status": "pass"}], requirement_spec=[{"kind": "size"}],
                       review={"verdict": "pass"}),
        segments.run(query_id="q1", rounds=1, models={"conversation": "a", "codegen": "b"}, review_rounds=1,
                     input_tokens=3, output_tokens=4, cost_usd=0.5, timings={"render_s": 1.2500001}),
    ]
    assert json.dumps(answer) == json.dumps(STORED_ANSWER)


def test_optional_model_keys_stay_out_when_empty():
    seg = segments.model(files=[], metrics={}, code="", brief="", call=segments.tool_call("c", {}),
                         inputs=[], requirements=[], requirement_spec=[], parameters={})
    assert set(seg) == {"type", "files", "metrics", "code", "brief", "expectedBboxMm", "toolCall", "warnings"}
    edit = segments.model(files=[], metrics={}, code="", brief="", call=segments.tool_call("c", {}),
                          edited_by="you", origin="parameters", source_item_id="s", parameters={"length": 2.0})
    assert list(edit)[-4:] == ["editedBy", "origin", "sourceItemId", "parameters"]


def test_errors_and_markers():
    assert segments.error("cancelled", "Stopped.") == {"type": "error", "kind": "cancelled", "message": "Stopped."}
    assert segments.error("x", "m", retryable=True, code="c") == {
        "type": "error", "kind": "x", "message": "m", "retryable": True, "code": "c"}
    assert segments.pending("q") == {"type": "pending", "queryId": "q"}


def test_readers_take_stored_json_apart():
    stored = json.loads(json.dumps([*STORED_ANSWER, "not a segment", {"type": "text", "text": "more"}]))
    assert segments.text_of(stored) == "Here is your model.\n\nmore"
    assert segments.model_of(stored)["code"] == "result = 1"
    assert segments.find(stored, segments.RUN)["queryId"] == "q1"
    assert not segments.is_pending(stored) and segments.is_pending([segments.pending("q")])
    said = [segments.text("look"), segments.attachments([{"id": "a", "format": "png", "filename": "a.png", "size": 1}])]
    assert segments.attached_ids(said) == ["a"]
    assert segments.model_of(None) is None and segments.text_of([]) == ""
