"""Issue 27 in the browser: pointing at the part. A plate made through a scripted model (a local server
speaking OpenAI's wire protocol, reached through the real SDK from the running app), picked in the real
Chromium viewer: hover lights a face or edge, a click names the face in a composer chip, shift-click adds an
edge, Escape and a click on empty space clear, the chip's x removes it. The next message carries the rows
and selectors to the model, and the selector, run on the program in the real render sandbox, picks exactly
the clicked face. The keyboard list picks too, a tap picks on a touch screen, and showing another version
clears the chips."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import Page, expect
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from render_service.protocol import decode_result
from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ARTIFACTS
from tests.browser.test_viewer_tools import _screen, _tools
from tests.browser.test_workspace import _sign_up, _wait_completed
from tests.llm.llm_fakes import FakeLLMServer, Received, serving, sse

pytestmark = pytest.mark.browser

# An 80 x 50 x 5 plate on z = 0 with one Ø4 hole: its top face is "top face, 80 × 50 mm, z = 5".
PLATE = """from build123d import *

result = Box(80, 50, 5, align=(Align.CENTER, Align.CENTER, Align.MIN)) - Pos(-30, -15, 2.5) * Cylinder(2, 5)
"""
THICKER = PLATE.replace("Box(80, 50, 5,", "Box(80, 50, 8,").replace("Cylinder(2, 5)", "Cylinder(2, 8)").replace("2.5)", "4)")


def _tool_offered(body: dict) -> str | None:
    tools = body.get("tools") or []
    return tools[0]["function"]["name"] if tools else None


class ScriptedOpenAI(FakeLLMServer):
    """The scripted model: a conversation call (it offers create_3d_model) asks for a model with the next
    brief, a codegen call gets the next program, a review passes; streamed or not, as the SDK asks. Every
    request is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.programs: list[tuple[str, list[float]]] = []

    async def _handle(self, request: Request) -> Response:
        body = await request.json()
        self.received.append(Received(request.url.path, dict(request.headers), body))
        tool = _tool_offered(body)
        if tool == "report_review":  # a vision model reviews the rendered views (issue 23): it passes
            message = {"content": "", "tool_calls": [{"id": "call_r", "type": "function", "function": {
                "name": tool, "arguments": json.dumps({"verdict": "pass", "problems": []})}}]}
            finish = "tool_calls"
        elif tool:
            bbox = self.programs[0][1] if self.programs else [80, 50, 5]
            args = json.dumps({"brief": f"A plate {bbox[0]:g} x {bbox[1]:g} x {bbox[2]:g} mm with one 4 mm hole",
                               "expected_bbox_mm": bbox, "units": "mm"})
            message = {"content": "Modelling it.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": args}}]}
            finish = "tool_calls"
        elif self.programs:
            message, finish = {"content": f"Here it is.\n```python\n{self.programs.pop(0)[0]}```"}, "stop"
        else:
            return JSONResponse({"error": {"message": "no program scripted"}}, status_code=500)
        usage = {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
        if not body.get("stream"):
            return JSONResponse({"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"], "usage": usage,
                                 "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}]})
        delta = {"role": "assistant", "content": message["content"]}
        chunks = [{"index": 0, "delta": delta, "finish_reason": None}]
        if "tool_calls" in message:
            chunks.append({"index": 0, "delta": {"tool_calls": [{"index": 0, **message["tool_calls"][0]}]}, "finish_reason": None})
        chunks.append({"index": 0, "delta": {}, "finish_reason": finish})
        events = [{"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"], "choices": [c]}
                  for c in chunks]
        events.append({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"], "choices": [],
                       "usage": usage})
        return StreamingResponse(iter([e.encode() for e in sse(*events, done=True)]), media_type="text/event-stream")

    def user_messages(self) -> list[str]:
        """The last user message of each conversation call, in order."""
        out = []
        for r in self.received:
            if _tool_offered(r.body) == "create_3d_model":
                users = [m for m in r.body["messages"] if m["role"] == "user"]
                content = users[-1]["content"]
                out.append(content if isinstance(content, str) else " ".join(p.get("text", "") for p in content))
        return out


@pytest.fixture(scope="module")
def scripted_openai(running_app):
    """The fake, set up as the OpenAI provider of the running app (admin REST); removed afterwards, so the
    other browser tests keep the offline defaults."""
    with serving(ScriptedOpenAI()) as fake, httpx.Client(base_url=running_app.url, timeout=30) as client:
        token = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        resp = client.put("/api/admin/models/credentials/openai", json={"apiKey": "sk-test-picking-0000",
                                                                        "baseUrl": f"{fake.url}/v1"}, headers=h)
        assert resp.status_code == 200, resp.text
        try:
            yield fake
        finally:
            client.delete("/api/admin/models/credentials/openai", headers=h)


def _pick_models(page: Page) -> None:
    for name in ("Conversation model", "Code model"):
        page.get_by_role("combobox", name=name).click()
        page.get_by_role("option", name="GPT-4.1 mini", exact=True).click()
        expect(page.get_by_role("combobox", name=name)).to_have_text("GPT-4.1 mini")


def _send(page: Page, text: str) -> None:
    prompt = page.get_by_label("Prompt")
    prompt.fill(text)
    prompt.press("Enter")


def _canvas_point(page: Page, mm: list[float]) -> tuple[float, float]:
    box = page.get_by_test_id("model-viewer").locator("canvas").bounding_box()
    x, y = _screen(page, mm)
    return box["x"] + x, box["y"] + y


def _picking(page: Page) -> dict:
    return _tools(page)["picking"]


def _wait_picking(page: Page, **want) -> dict:
    """Wait until the viewer's picking snapshot has the wanted values."""
    for _ in range(100):
        got = _picking(page)
        if all(got.get(k) == v for k, v in want.items()):
            return got
        page.wait_for_timeout(100)
    raise AssertionError(f"picking never reached {want}: {got}")


def _wait_hover(page: Page) -> str:
    for _ in range(100):
        hover = _picking(page)["hover"]
        if hover:
            return hover
        page.wait_for_timeout(100)
    raise AssertionError("nothing lit up under the pointer")


def _hover_edge(page: Page, mm: list[float]) -> tuple[str, tuple[float, float]]:
    """Point 3 px above an edge's point until an edge is hovered, and stays hovered, under a still pointer.
    Tried again from a fresh projection because, on a loaded machine, the view can still settle after
    "ready" (the layout around the canvas, the fit's damping) and move the part under the pointer."""
    hover = ""
    for _ in range(10):
        x, y = _canvas_point(page, mm)
        page.mouse.move(x, y - 3)
        for _ in range(10):
            page.wait_for_timeout(100)
            hover = _picking(page)["hover"] or ""
            if hover.startswith("E"):
                page.wait_for_timeout(300)
                if _picking(page)["hover"] == hover:
                    return hover, (x, y)
    raise AssertionError(f"no edge stayed lit 3 px from {mm}; last hover {hover!r}")


def _render(render_service, code: str) -> dict:
    """The program in the real render sandbox (the render service the app uses); its trusted metrics."""
    with httpx.Client(base_url=render_service.url, timeout=120,
                      headers={"Authorization": f"Bearer {render_service.token}"}) as c:
        r = c.post("/render", json={"code": code, "formats": ["stl"]})
    assert r.status_code == 200, r.text
    return decode_result(r.content).metrics


def test_click_a_face_send_it_and_the_selector_picks_that_face(running_app, render_service, scripted_openai,
                                                               page: Page, browser) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_up(page, running_app, "Pointer")
    page.get_by_role("button", name="New chat").click()
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}$"), timeout=30_000)
    chat_url = page.url
    _pick_models(page)
    scripted_openai.programs.append((PLATE, [80, 50, 5]))
    _send(page, "a plate with a hole")
    _wait_completed(page, 1)
    viewer = page.get_by_test_id("model-viewer")
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)
    _wait_picking(page, on=True)
    chips = page.get_by_test_id("selection-chip")

    # Hover: a face lights up and its words show; near an edge (within a few pixels) the edge wins.
    page.mouse.move(*_canvas_point(page, [10, 5, 5]))
    top_id = _wait_hover(page)
    expect(page.get_by_test_id("pick-hover")).to_have_text("top face, 80 × 50 mm, z = 5")
    assert _picking(page)["paintedFaces"] == [top_id] and top_id.startswith("F")
    edge_id, (ex, ey) = _hover_edge(page, [0, -25, 5])  # 3 px above the top face's front edge
    expect(page.get_by_test_id("pick-hover")).to_have_text("edge, 80 mm along x")
    assert _picking(page)["drawnEdges"] == [edge_id]

    # Click selects the face: one chip in words; shift-click adds the edge; clicking the face again alone
    # keeps only it; Escape clears; the chip's x removes it; a click on empty space clears.
    page.mouse.click(*_canvas_point(page, [10, 5, 5]))
    expect(chips).to_have_text(["top face, 80 × 50 mm, z = 5"])
    _wait_picking(page, picked=[top_id], paintedFaces=[top_id])
    page.keyboard.down("Shift")
    page.mouse.click(ex, ey - 3)
    page.keyboard.up("Shift")
    expect(chips).to_have_text(["top face, 80 × 50 mm, z = 5", "edge, 80 mm along x"])
    _wait_picking(page, picked=[top_id, edge_id])
    page.keyboard.press("Escape")
    expect(chips).to_have_count(0)
    page.mouse.click(*_canvas_point(page, [10, 5, 5]))
    expect(chips).to_have_count(1)
    page.get_by_role("button", name="Remove top face, 80 × 50 mm, z = 5").click()
    expect(chips).to_have_count(0)
    _wait_picking(page, picked=[], paintedFaces=[])
    page.mouse.click(*_canvas_point(page, [10, 5, 5]))
    expect(chips).to_have_count(1)
    box = viewer.locator("canvas").bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + box["height"] * 0.55)  # empty space, left of the plate
    expect(chips).to_have_count(0)

    # Pick the top face and send: the chip goes with the message and clears.
    clicked = [10, 5, 5]
    page.mouse.click(*_canvas_point(page, clicked))
    expect(chips).to_have_text(["top face, 80 × 50 mm, z = 5"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "picking-chip.png"))
    scripted_openai.programs.append((THICKER, [80, 50, 8]))
    _send(page, "make this face 3 mm higher")
    expect(chips).to_have_count(0)
    # The message keeps what it pointed at, in the chip's words.
    said = page.get_by_test_id("user-bubble").last
    expect(said).to_contain_text("make this face 3 mm higher")
    expect(said.get_by_test_id("message-pick")).to_have_text(["top face, 80 × 50 mm, z = 5"])
    _wait_completed(page, 2)

    # The model got the rows and the selector of the clicked face.
    sent = scripted_openai.user_messages()[-1]
    assert sent.startswith("make this face 3 mm higher") and "[Selected geometry]" in sent
    assert f"- {top_id}: top face, 80 × 50 mm, z = 5; selector: `" in sent
    rows = json.loads(sent.split("Rows: ", 1)[1].splitlines()[0])
    assert [r["id"] for r in rows] == [top_id]
    row = rows[0]
    assert row["type"] == "plane" and row["normal"] == pytest.approx([0, 0, 1]) and row["area"] > 3900
    selector = re.search(rf"- {top_id}: [^;]+; selector: `([^`]+)`", sent).group(1)

    # The selector, run on the program in the real sandbox, picks exactly the clicked face: thickened by
    # 0.2 mm it is a slab on z = 5 covering the clicked point, with the row's outline and area.
    got = _render(render_service, PLATE + f"result = thicken({selector}, 0.2)\n")
    lo, hi = got["bbox_min_mm"], got["bbox_max_mm"]
    assert lo[2] == pytest.approx(5, abs=0.01) and hi[2] == pytest.approx(5.2, abs=0.01)
    assert lo[0] <= clicked[0] <= hi[0] and lo[1] <= clicked[1] <= hi[1]
    assert lo[:2] == pytest.approx(row["bbox"]["min"][:2], abs=0.01) and hi[:2] == pytest.approx(row["bbox"]["max"][:2], abs=0.01)
    assert got["volume_mm3"] == pytest.approx(row["area"] * 0.2, rel=0.01)

    # The keyboard: the face list, arrows move the highlight in the 3D view, Enter picks (on version 2).
    expect(viewer.locator("[data-status=ready]")).to_be_visible(timeout=60_000)
    _wait_picking(page, on=True)
    page.get_by_role("button", name="List faces and edges").click()
    listbox = page.get_by_role("listbox", name=re.compile(r"^Faces and edges"))
    options = listbox.get_by_role("option")
    labels = [t.strip() for t in options.all_inner_texts()]
    want = next(i for i, t in enumerate(labels) if t.startswith("top face, 80 × 50 mm, z = 8"))
    listbox.focus()
    for _ in range(want + 1):
        page.keyboard.press("ArrowDown")
    active = listbox.get_attribute("aria-activedescendant")
    face_id = active.removeprefix("chat3d-pick-")
    _wait_picking(page, hover=face_id, paintedFaces=[face_id])
    page.keyboard.press("Enter")
    expect(chips).to_have_text(["top face, 80 × 50 mm, z = 8"])
    expect(options.nth(want)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(chips).to_have_count(2)

    # A touch screen: a tap picks (same account, a touch context).
    phone_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, has_touch=True,
                                    storage_state=page.context.storage_state())
    phone = phone_ctx.new_page()
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        phone.goto(chat_url)
        expect(phone.get_by_test_id("model-viewer").locator("[data-status=ready]")).to_be_visible(timeout=60_000)
        _wait_picking(phone, on=True)
        phone.tap("[data-testid=model-viewer] canvas", position=_relative(phone, [10, 5, 8]))
        expect(phone.get_by_test_id("selection-chip")).to_have_text(["top face, 80 × 50 mm, z = 8"])
    finally:
        phone_ctx.close()

    # Showing another version clears the chips (the ids belong to one version).
    page.get_by_role("button", name="Show model").first.click()
    expect(page.get_by_test_id("dims-overlay")).to_have_text("80.0 × 50.0 × 5.0 mm", timeout=30_000)
    expect(chips).to_have_count(0)
    assert errors == []


def _relative(page: Page, mm: list[float]) -> dict:
    x, y = _screen(page, mm)
    return {"x": x, "y": y}

