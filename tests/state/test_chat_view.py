"""Pure helpers of the chat workspace: formatting, recency grouping, segment parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chat3d.state.chat import context_id_from_path
from chat3d.state.chat_composer import pick
from chat3d.state.chat_view import (
    add_progress,
    format_cost,
    format_dims,
    format_seconds,
    format_size,
    format_volume,
    group_contexts,
    item_view,
    metrics_line,
    model_info,
    models_label,
    pending_query_id,
    recency_group,
    state_label,
)

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)

MODEL_SEGMENTS = [
    {"type": "text", "text": "Here is your plate."},
    {
        "type": "model",
        "files": [
            {"id": "f-glb", "format": "glb", "filename": "model.glb", "size": 37_000},
            {"id": "f-step", "format": "step", "filename": "model.step", "size": 34_000},
            {"id": "f-py", "format": "py", "filename": "model.py", "size": 900},
            {"id": "f-stl", "format": "stl", "filename": "model.stl", "size": 42_000},
        ],
        "metrics": {
            "bbox_size_mm": [80, 50, 5], "bbox_min_mm": [-40, -25, 0], "bbox_max_mm": [40, 25, 5],
            "volume_mm3": 19_748.7, "area_mm2": 8_900.0, "solids": 1, "faces": 10, "edges": 24, "valid": True,
            "build_s": 0.21, "export_s": 0.4,
        },
        "code": "from build123d import *\n",
        "brief": "plate",
        "expectedBboxMm": [80, 50, 5],
        "warnings": [],
    },
    {
        "type": "run", "queryId": "q1", "rounds": 1,
        "models": {"conversation": "offline-conversation", "codegen": "offline-templates"},
        "usage": {"inputTokens": 1200, "outputTokens": 515}, "costUsd": 0.0,
        "timings": {"conversation_s": 0.5, "codegen_s": 0.3, "render_s": 1.3},
    },
]


def test_format_dims_one_decimal_with_times_sign() -> None:
    assert format_dims([80, 50, 5]) == "80.0 × 50.0 × 5.0 mm"
    assert format_dims([79.96, 50.04, 4.999]) == "80.0 × 50.0 × 5.0 mm"
    assert format_dims([1, 2, 3], unit="in") == "1.0 × 2.0 × 3.0 in"
    assert format_dims(None) == "" and format_dims([1, 2]) == "" and format_dims(["x", 1, 2]) == ""


def test_other_formats() -> None:
    assert format_volume(19_748.7) == "19.7 cm³"
    assert format_volume(512) == "512.0 mm³"
    assert format_seconds(0.25) == "250 ms" and format_seconds(2.14) == "2.1 s" and format_seconds(75) == "1 min 15 s"
    assert format_size(900) == "900 B" and format_size(42_000) == "41.0 KB" and format_size(3 * 1024 * 1024) == "3.0 MB"
    assert format_cost(0) == "$0" and format_cost(0.0012) == "$0.0012" and format_cost(1.5) == "$1.50"


def test_recency_groups() -> None:
    assert recency_group(NOW - timedelta(hours=2), NOW) == "Today"
    assert recency_group(NOW.replace(hour=0, minute=0), NOW) == "Today"
    assert recency_group(NOW - timedelta(days=1), NOW) == "Previous 7 days"
    assert recency_group(NOW - timedelta(days=7), NOW) == "Previous 7 days"
    assert recency_group(NOW - timedelta(days=9), NOW) == "Older"
    assert recency_group((NOW - timedelta(hours=1)).replace(tzinfo=None), NOW) == "Today"  # naive = UTC


def test_group_contexts_marks_the_first_row_of_each_group() -> None:
    rows = group_contexts([
        ("a", "A", NOW - timedelta(minutes=5)), ("b", "B", NOW - timedelta(hours=1)),
        ("c", "C", NOW - timedelta(days=2)), ("d", "D", NOW - timedelta(days=30)), ("e", "E", NOW - timedelta(days=40)),
    ], NOW)
    assert [(r.id, r.group, r.show_header) for r in rows] == [
        ("a", "Today", True), ("b", "Today", False), ("c", "Previous 7 days", True),
        ("d", "Older", True), ("e", "Older", False),
    ]
    assert group_contexts([], NOW) == []


def test_group_contexts_carries_the_thumbnail_url() -> None:
    rows = group_contexts([("a", "A", NOW, "f-svg"), ("b", "B", NOW, None), ("c", "C", NOW)], NOW)
    assert [r.thumb_url for r in rows] == ["/api/files/f-svg", "", ""]


def test_progress_labels_and_timeline() -> None:
    assert state_label("codegen") == "Writing code"
    assert state_label("repairing", 2) == "Repairing 2"
    assert state_label("cancelled") == "Stopped"
    p = add_progress([], "Queued")
    p = add_progress(p, "Queued")
    p = add_progress(p, "Rendering")
    assert p == ["Queued", "Rendering"]


def test_pending_item_view() -> None:
    view = item_view("i1", "assistant", [{"type": "pending", "queryId": "q9"}], query_state="rendering")
    assert view.pending and view.query_id == "q9" and view.progress == ["Rendering"]
    assert not view.has_model and view.metrics_line == ""
    assert pending_query_id([{"type": "pending", "queryId": "q9"}]) == "q9"
    assert item_view("i1", "assistant", [{"type": "pending", "queryId": "q9"}]).progress == ["Queued"]
    kept = item_view("i1", "assistant", [{"type": "pending", "queryId": "q9"}], progress=["Queued", "Writing code"])
    assert kept.progress == ["Queued", "Writing code"]


def test_completed_item_view_has_metrics_line() -> None:
    view = item_view("i2", "assistant", MODEL_SEGMENTS, rating=1, version=2)
    assert not view.pending and view.has_model and view.rating == 1
    assert view.text == "Here is your plate."
    assert view.dims == "80.0 × 50.0 × 5.0 mm"
    assert view.metrics_line == "80.0 × 50.0 × 5.0 mm · 19.7 cm³ · 2.1 s · 1,715 tokens · $0"
    assert view.version_label == "Version 2"
    assert view.models_label == "Offline templates"  # friendly names, one when both stages share it
    assert metrics_line(None, None) == ""


def test_error_and_user_items() -> None:
    err = item_view("i3", "assistant", [
        {"type": "error", "kind": "render", "message": "The model could not be built.", "retryable": True, "code": "x"},
        {"type": "run", "queryId": "q3", "rounds": 2, "models": {}, "usage": {}, "costUsd": 0, "timings": {}},
    ])
    assert err.error == "The model could not be built." and err.retryable and not err.has_model
    user = item_view("u1", "user", [
        {"type": "text", "text": "a plate"},
        {"type": "attachments", "files": [{"id": "img1", "format": "png", "filename": "sketch.png", "size": 10}]},
    ])
    assert user.text == "a plate" and user.metrics_line == ""
    assert [(a.url, a.filename) for a in user.attachments] == [("/api/files/img1", "sketch.png")]


def test_model_info_for_the_workbench() -> None:
    info = model_info("i2", MODEL_SEGMENTS)
    assert info is not None
    assert info.glb_url == "/api/files/f-glb" and info.dims == "80.0 × 50.0 × 5.0 mm"
    assert info.size_mm == [80.0, 50.0, 5.0]
    assert [f.format for f in info.files] == ["stl", "step", "glb", "py"]
    assert info.files[1].label == "STEP" and info.files[1].url == "/api/files/f-step"
    details = {d.label: d.value for d in info.details}
    assert details["Bounding box"] == "80.0 × 50.0 × 5.0 mm"
    assert details["Valid solid"] == "yes" and details["Solids"] == "1"
    assert details["Code model"] == "Offline templates" and details["Repair rounds"] == "1"
    assert details["Tokens"] == "1,200 in / 515 out"
    assert model_info("i3", [{"type": "text", "text": "no model"}]) is None


def test_route_and_model_choice_helpers() -> None:
    assert context_id_from_path("/chat/abc-123") == "abc-123"
    assert context_id_from_path("/chat/abc?x=1") == "abc"
    assert context_id_from_path("/chat") == "" and context_id_from_path("/chat/") == ""
    assert pick("b", ["a", "b"], "a") == "b"
    assert pick("gone", ["a", "b"], "b") == "b"
    assert pick(None, ["a"], "missing") == "a"
    assert pick(None, [], "x") == ""


def test_inch_chats_show_inches_first() -> None:
    from chat3d.state.chat_view import format_dims_for, metrics_line

    assert format_dims_for([80, 50, 5], "mm") == "80.0 × 50.0 × 5.0 mm"
    assert format_dims_for([76.2, 50.8, 6.35], "in") == "3.00 × 2.00 × 0.25 in (76.2 × 50.8 × 6.3 mm)"
    line = metrics_line({"metrics": {"bbox_size_mm": [25.4, 25.4, 12.7]}}, None, "in")
    assert line.startswith("1.00 × 1.00 × 0.50 in")


def test_answers_name_their_models_by_friendly_name() -> None:
    """Users see "GPT-4.1 mini", not "gpt-4.1-mini"; an id no longer configured is shown as it is."""
    run = {"models": {"conversation": "gpt-4.1-mini", "codegen": "claude-sonnet-4-5"}}
    assert models_label(run) == "GPT-4.1 mini → Claude Sonnet 4.5"
    assert models_label({"models": {"conversation": "retired-model", "codegen": ""}}) == "retired-model → ?"


def test_a_reviewed_answer_shows_the_verdict_and_what_the_reviewer_saw() -> None:
    """Issue 23 item 2: the review's row ends the checklist, and the views it saw are a small picture under it."""
    review = {"model": "gpt-4.1", "verdict": "problems", "problems": ["The holes are missing"], "reviews": 2,
              "repairs": 1, "corrected": []}
    rows = [{"kind": "size", "label": "80 × 50 × 5 mm", "source": "stated", "status": "pass", "detail": ""},
            {"kind": "review", "label": "view review", "source": "review", "status": "fail",
             "detail": "The holes are missing"}]
    files = [*MODEL_SEGMENTS[1]["files"], {"id": "f-views", "format": "views", "filename": "views.png", "size": 21_000}]
    segments = [MODEL_SEGMENTS[0], {**MODEL_SEGMENTS[1], "files": files, "requirements": rows, "review": review},
                *MODEL_SEGMENTS[2:]]
    view = item_view("i9", "assistant", segments)
    assert view.checklist == "80 × 50 × 5 mm ✓ · view review ✗"
    assert view.review_views_url == "/api/files/f-views"
    assert view.review_caption == "What GPT-4.1 saw when it reviewed the part: ✗"
    unreviewed = item_view("i10", "assistant", MODEL_SEGMENTS)  # no vision model: no row, no picture
    assert (unreviewed.review_views_url, unreviewed.review_caption) == ("", "")
    assert "review" not in unreviewed.checklist


def test_a_users_message_shows_what_it_pointed_at_in_the_chips_words():
    picked = {"type": "selection", "version": "v1", "items": [
        {"id": "F3", "label": "top face, 80 × 50 mm, z = 5", "selector": "…", "row": {}},
        {"id": "E1", "label": "edge, 80 mm along x", "selector": "…", "row": {}},
    ]}
    said = item_view("u1", "user", [{"type": "text", "text": "make this 8 mm"}, picked])
    assert said.picks == ["top face, 80 × 50 mm, z = 5", "edge, 80 mm along x"]
    assert item_view("u2", "user", [{"type": "text", "text": "a plate"}]).picks == []
    assert item_view("a1", "assistant", [{"type": "text", "text": "ok"}, picked]).picks == []
