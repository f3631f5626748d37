"""bench.eval: the geometry scores on shapes with known answers, and the harness end to end.

The end-to-end test runs `python -m bench.eval` as a user would, on three CadQueryEval tasks, with a model
served by a local server speaking the OpenAI wire protocol (through the real OpenAI SDK and the real
pipeline and render service). The server answers each task's prompt with a correct build123d program.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from bench.eval import metrics
from bench.eval.suite import load_tasks, published_results
from tests.llm.llm_fakes import FakeLLMServer, Received, serving, sse

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "bench" / "eval" / "cadqueryeval"


def box(x: float, y: float, z: float, shift=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    mesh = trimesh.creation.box((x, y, z))
    mesh.apply_translation(shift)
    return mesh


# --- the suite: the project's own copy ---------------------------------------------------------


def test_suite_is_the_projects_copy_with_its_notice():
    tasks = load_tasks("cadqueryeval")
    assert [t.id for t in tasks] == [f"task{i}" for i in range(1, 26)]
    assert all(t.reference.is_file() and t.reference.is_relative_to(SUITE) for t in tasks)
    assert tasks[7].bbox_mm == (20.0, 20.0, 80.0) and tasks[6].expected_components == 2
    notice = (SUITE / "NOTICE.md").read_text(encoding="utf-8")
    assert "danwahl/cadqueryeval" in notice and "MIT" in notice
    assert published_results()[0]["accuracy"] == "0.5200"
    with pytest.raises(ValueError, match="no such task"):
        load_tasks("cadqueryeval", ["task99"])


# --- metrics on known shapes -------------------------------------------------------------------


def test_identical_solids_score_perfectly():
    reference = metrics.load_mesh(SUITE / "reference" / "task8.stl")
    s = metrics.score(reference.copy(), reference)
    assert s.passed and s.watertight and s.components == 1
    assert s.chamfer_mm < 1e-9 and s.hausdorff95_mm < 1e-9
    assert s.iou == pytest.approx(1.0, abs=1e-9)
    assert s.bbox_diff_mm == pytest.approx([0, 0, 0], abs=1e-6) and s.volume_diff_pct < 1e-6


def test_box_shifted_by_one_mm_without_alignment_gives_the_known_iou_and_distances():
    """A 10 mm cube against itself moved 1 mm along x, alignment off.

    IoU = 900 / 1100. Distances from a surface point to the other surface, worked out per face: the far
    face is 1 mm away everywhere, the near face min(1, distance to its edge), the side faces 1 − x on their
    first millimetre; the mean over the surface is 201.33 / 600 = 0.3356 mm both ways. The benchmark's
    Chamfer measures to the other surface's 50,000 samples, which adds a floor of a fraction of their
    ~0.11 mm spacing. More than 5 % of the surface is exactly 1 mm away (Hausdorff 95 = 1).
    """
    s = metrics.score(box(10, 10, 10, (1, 0, 0)), box(10, 10, 10), align_meshes=False)
    assert s.iou == pytest.approx(9 / 11, abs=1e-9)
    assert 201.3333 / 600 <= s.chamfer_mm <= 201.3333 / 600 + 0.05
    assert s.hausdorff95_mm == pytest.approx(1.0, abs=1e-6)
    assert s.transform == np.eye(4).tolist()


def test_alignment_undoes_a_shift_and_a_rotation():
    s = metrics.score(box(10, 10, 10, (1, 0, 0)), box(10, 10, 10))
    assert s.iou == pytest.approx(1.0, abs=1e-9) and s.chamfer_mm < 1e-9 and s.passed

    reference = metrics.load_mesh(SUITE / "reference" / "task8.stl")
    moved = reference.copy()
    moved.apply_transform(trimesh.transformations.rotation_matrix(0.7, [0.3, 1.0, 0.2]))
    moved.apply_translation([5, -3, 8])
    s = metrics.score(moved, reference)
    assert s.passed and s.iou == pytest.approx(1.0, abs=1e-6) and s.chamfer_mm < 1e-6


def test_the_pass_rule_rejects_wrong_size_and_extra_bodies():
    too_long = metrics.score(box(20, 20, 82), box(20, 20, 80))
    assert not too_long.passed and not too_long.bbox_ok and not too_long.volume_ok
    # ICP's best fit of the longer box may tilt it a hair: the figures are near, not exactly, 2 mm and 80/82.
    assert max(abs(d) for d in too_long.bbox_diff_mm) == pytest.approx(2.0, abs=0.05)
    assert too_long.iou == pytest.approx(80 / 82, abs=0.01)

    two_bodies = trimesh.util.concatenate([box(10, 10, 10), box(2, 2, 2, (20, 0, 0))])
    s = metrics.score(two_bodies, box(10, 10, 10))
    assert s.components == 2 and not s.components_ok and not s.passed


# --- the harness end to end --------------------------------------------------------------------

PROGRAMS = {
    "task8": "from build123d import *\nresult = chamfer(Box(20, 20, 80).edges(), 1)\n",
    "task9": ("from build123d import *\nwith BuildPart() as part:\n    Box(50, 50, 50)\n"
              "    with Locations((0, 0, 2.5)):\n        Box(40, 40, 45, mode=Mode.SUBTRACT)\nresult = part.part\n"),
    "task13": "from build123d import *\nresult = Cylinder(5, 50) - Cylinder(3, 50)\n",
}
BBOX = {"task8": [20, 20, 80], "task9": [50, 50, 50], "task13": [10, 10, 50]}
CONVERSATION_USAGE = {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}
CODEGEN_USAGE = {"prompt_tokens": 2000, "completion_tokens": 300, "total_tokens": 2300}
REVIEW_USAGE = {"prompt_tokens": 800, "completion_tokens": 20, "total_tokens": 820}


class TaskAwareServer(FakeLLMServer):
    """OpenAI chat completions that recognise which task a request is about by its prompt text:
    the conversation stage gets a streamed create_3d_model call, the code stage the task's program, and the
    review of the rendered views (gpt-4.1-mini has vision) a 'pass' verdict."""

    def __init__(self, prompts: dict[str, str]):
        super().__init__()
        self.prompts = prompts

    def _task_of(self, body: dict) -> str:
        text = json.dumps(body["messages"])
        found = [tid for tid, prompt in self.prompts.items() if json.dumps(prompt)[1:-1] in text]
        assert len(found) == 1, f"cannot tell the task from the request: {found}"
        return found[0]

    async def _handle(self, request: Request) -> Response:
        body = await request.json()
        self.received.append(Received(request.url.path, dict(request.headers), body))
        tid = self._task_of(body)
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        if "report_review" in tools:
            call = {"id": f"review_{tid}", "type": "function",
                    "function": {"name": "report_review", "arguments": json.dumps({"verdict": "pass", "problems": []})}}
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            return JSONResponse(self._completion(message, "tool_calls", REVIEW_USAGE))
        if body.get("tools"):
            args = json.dumps({"brief": self.prompts[tid], "expected_bbox_mm": BBOX[tid], "units": "mm"})
            chunks = [
                {"role": "assistant", "content": "Modelling it."},
                {"tool_calls": [{"index": 0, "id": f"call_{tid}", "type": "function",
                                 "function": {"name": "create_3d_model", "arguments": args}}]},
            ]
            events = [self._chunk(c) for c in chunks] + [self._chunk({}, "tool_calls"), self._chunk(None, usage=CONVERSATION_USAGE)]
            if body.get("stream"):
                return StreamingResponse(iter([c.encode() for c in sse(*events, done=True)]), media_type="text/event-stream")
            message = {"role": "assistant", "content": "Modelling it.", "tool_calls": [
                {"id": f"call_{tid}", "type": "function", "function": {"name": "create_3d_model", "arguments": args}}]}
            return JSONResponse(self._completion(message, "tool_calls", CONVERSATION_USAGE))
        text = f"Here it is.\n```python\n{PROGRAMS[tid]}```\n"
        if body.get("stream"):
            events = [self._chunk({"role": "assistant", "content": text}), self._chunk({}, "stop"), self._chunk(None, usage=CODEGEN_USAGE)]
            return StreamingResponse(iter([c.encode() for c in sse(*events, done=True)]), media_type="text/event-stream")
        return JSONResponse(self._completion({"role": "assistant", "content": text}, "stop", CODEGEN_USAGE))

    @staticmethod
    def _chunk(delta: dict | None, finish: str | None = None, usage: dict | None = None) -> dict:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "fake", "choices": choices, "usage": usage}

    @staticmethod
    def _completion(message: dict, finish: str, usage: dict) -> dict:
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}


@pytest.fixture
def task_server():
    prompts = {t.id: t.prompt for t in load_tasks("cadqueryeval", list(PROGRAMS))}
    with serving(TaskAwareServer(prompts)) as fake:
        yield fake


@pytest.mark.slow
def test_harness_runs_three_tasks_through_the_pipeline_and_scores_them(task_server, tmp_path):
    from chat3d.llm import registry
    from chat3d.llm.base import Usage
    from chat3d.settings import get_settings

    out = tmp_path / "eval.json"
    env = {k: v for k, v in os.environ.items() if k != "LLM_MODELS_FILE"}  # the built-in gpt-4.1-mini entry
    env.update(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{task_server.url}/v1", CHAT3D_ENV="test", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.eval", "--suite", "cadqueryeval", "--models", "gpt-4.1-mini",
         "--tasks", ",".join(PROGRAMS), "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=540,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    block = result["models"][0]
    assert (block["model"], block["conversation_model"], block["codegen_model"]) == ("gpt-4.1-mini",) * 3
    rows = {r["task"]: r for r in block["tasks"]}
    assert set(rows) == set(PROGRAMS)
    for row in rows.values():
        assert row["state"] == "completed" and row["error"] is None, row
        assert row["occt_valid"] is True and row["valid_solid"] and row["passed"], row
        # A correct program's own tessellation against the reference's: distances near the 50k-sample
        # floor (well under the 1 mm rule), volumes almost coincide.
        assert row["score"]["chamfer_mm"] < 0.5 and row["score"]["hausdorff95_mm"] < 1.0
        assert row["score"]["iou"] > 0.99
        # The part passes its one review of the rendered views: counted, with its tokens, and no repair.
        assert row["repair_rounds"] == 0 and row["review_rounds"] == 1
        assert (row["input_tokens"], row["output_tokens"]) == (3800, 370)

    # Every request reached the fake server through the SDK: one conversation (with the tool), one code
    # request and one review (carrying the views as a PNG) per task, each carrying that task's prompt.
    def tool_names(body: dict) -> list[str]:
        return [t["function"]["name"] for t in body.get("tools") or []]

    conversations = [r for r in task_server.received if "create_3d_model" in tool_names(r.body)]
    reviews = [r for r in task_server.received if "report_review" in tool_names(r.body)]
    assert sorted(task_server._task_of(r.body) for r in conversations) == sorted(PROGRAMS)
    assert sorted(task_server._task_of(r.body) for r in reviews) == sorted(PROGRAMS)
    assert all("data:image/png;base64," in json.dumps(r.body["messages"]) for r in reviews)
    assert len(task_server.received) == 9

    spec = registry.get_model("gpt-4.1-mini", get_settings())
    per_task = registry.cost_usd(spec, Usage(3800, 370))
    summary = block["summary"]
    assert (summary["tasks"], summary["valid_solids"], summary["passed"], summary["accuracy"]) == (3, 3, 3, 1.0)
    assert summary["cost_usd"] == pytest.approx(3 * per_task, rel=1e-4)
    assert summary["cost_per_valid_part_usd"] == pytest.approx(per_task, rel=1e-4)
    assert summary["iou_mean"] > 0.99 and summary["input_tokens"] == 3 * 3800
    assert result["published"][0]["model_id"] == "openai/gpt-5-mini"
    assert "gpt-4.1-mini" in proc.stdout and "3 (1.00)" in proc.stdout  # the printed overall table


def test_harness_refuses_a_model_without_its_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LLM_MODELS_FILE"}
    env.update(OPENAI_API_KEY="", CHAT3D_ENV="test")
    proc = subprocess.run([sys.executable, "-m", "bench.eval", "--models", "gpt-4.1-mini", "--limit", "1"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "not usable now" in proc.stdout and "API key" in proc.stdout
