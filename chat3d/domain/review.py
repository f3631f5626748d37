"""The rendered-view review (issue 23 item 2): a vision model looks at the part's standard views.

The render service's trusted post step draws the views (``views.png``: top, front and right at one scale, and
an iso view; render_service/postrender.py ``render_views``) from the validated mesh. The chat's model, when it
can see images, gets them with the brief and the requirement checklist and answers with the ``report_review``
tool: ``pass``, or ``problems`` (a list) that become one repair round for the codegen model, at most
``REVIEW_ROUNDS`` of them. The final part is reviewed too, so the verdict shown is about the part delivered.
Framework-free: the runner builds the messages from here and stores the verdict this module shapes.
"""

from __future__ import annotations

import json
import re
from typing import Any

VERDICTS = ("pass", "problems")
MAX_PROBLEMS = 8
MAX_PROBLEM_CHARS = 300

# The `report_review` tool's arguments (chat3d/llm/tools.py wraps it in a ToolSpec).
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {
            "type": "string",
            "enum": list(VERDICTS),
            "description": "pass: the pictured part is what the brief asks for; problems: it is not.",
        },
        "problems": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Each visible way the part differs from the brief, precise enough to fix "
            "(what, where, how it should be). Empty for pass.",
        },
    },
    "required": ["verdict", "problems"],
}

SYSTEM = (
    "You check 3D CAD parts against what was asked for, by looking at rendered views of the built part. "
    "The picture is one sheet of four views: TOP (looking down from +Z, X to the right, Y up), FRONT (from -Y, "
    "X to the right, Z up) and RIGHT (from +X, Y to the right, Z up), all three at the same scale and aligned as "
    "on a drawing, and an ISO view from the front right, above. Faces farther from the viewer are darker; dark "
    "lines are silhouettes and steps. The checklist gives what was measured on the solid itself (sizes, holes): "
    "trust its numbers over your reading of the pictures, and look for what it cannot check: missing or extra "
    "features, features in the wrong place or orientation, the wrong overall shape. Answer only with the "
    "report_review tool. Say pass unless something visible is wrong; do not ask for features the brief does "
    "not ask for."
)


def request_text(brief: str, rows: list[dict], size_mm: list[float] | None) -> str:
    """The review request: the brief, the measured size and the requirement checklist with its results."""
    lines = [f"Brief: {brief.strip()}"]
    if size_mm:
        lines.append(
            "Measured bounding box: "
            + " × ".join(f"{v:.2f}".rstrip("0").rstrip(".") for v in size_mm)
            + " mm (X × Y × Z)"
        )
    if rows:
        lines.append("Requirements and what the measurement said:")
        for r in rows:
            detail = f" ({r['detail']})" if r.get("detail") else ""
            lines.append(f"- {r['label']} [{r['source']}]: {r['status']}{detail}")
    else:
        lines.append("No structured requirements were given: judge against the brief.")
    lines.append("Here are the views of the built part. Is it what the brief asks for? Answer with report_review.")
    return "\n".join(lines)


def _problems(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    out = [re.sub(r"\s+", " ", p).strip()[:MAX_PROBLEM_CHARS] for p in items if isinstance(p, str)]
    return [p for p in out if p][:MAX_PROBLEMS]


def _from_arguments(args: Any) -> dict | None:
    if not isinstance(args, dict):
        return None
    verdict = str(args.get("verdict", "")).strip().lower()
    problems = _problems(args.get("problems"))
    if verdict == "pass":
        return {"verdict": "pass", "problems": []}
    if verdict == "problems" and problems:
        return {"verdict": "problems", "problems": problems}
    return None


def parse_verdict(tool_arguments: dict | None, text: str) -> dict:
    """``{"verdict": "pass" | "problems" | "unclear", "problems": [...]}`` from the tool call, or from a JSON
    object or a leading PASS in the text when the model answered in words. "problems" without any problem
    named, or anything else, is "unclear": it neither passes the part nor costs a repair round."""
    got = _from_arguments(tool_arguments)
    if got is None and text:
        match = re.search(r"\{.*\}", text, re.S)
        if match:
            try:
                got = _from_arguments(json.loads(match.group(0)))
            except ValueError:
                got = None
        if got is None and re.match(r"\W*pass\b", text.strip(), re.I):
            got = {"verdict": "pass", "problems": []}
    return got or {"verdict": "unclear", "problems": []}


def repair_request(problems: list[str], code: str) -> str:
    """The codegen model's repair message after a review found problems in the views."""
    lines = "\n".join(f"- {p}" for p in problems)
    return (
        "The program ran, but a review of the rendered views of the part found these problems:\n"
        f"{lines}\nFix the program so the part is as the brief asks, keeping everything else. Current program:\n"
        f"```python\n{code}\n```"
    )


def record(model_id: str, verdict: dict, reviews: int, repairs: int, corrected: list[str]) -> dict:
    """What the model segment keeps (``review``): who reviewed, the last verdict (about the part delivered:
    pass, problems, unclear, or not_reviewed with a reason when the model failed or no views came back), the
    reviews made, the repair rounds they caused and the problems those corrected. The views the reviewer saw
    are the version's ``views`` file."""
    doc = {
        "model": model_id,
        "verdict": verdict["verdict"],
        "problems": list(verdict.get("problems") or []),
        "reviews": reviews,
        "repairs": repairs,
        "corrected": list(corrected),
    }
    if verdict.get("reason"):
        doc["reason"] = str(verdict["reason"])[:300]
    return doc


def checklist_row(review: dict | None) -> dict | None:
    """The review as one more checklist row, shown wherever the requirement rows are."""
    if not review:
        return None
    verdict = review.get("verdict")
    status = "pass" if verdict == "pass" else "fail" if verdict == "problems" else "not_checkable"
    detail = "; ".join(review.get("problems") or []) or review.get("reason", "")
    if verdict == "unclear":
        detail = "the reviewer gave no clear verdict"
    return {"kind": "review", "label": "view review", "source": "review", "status": status, "detail": detail}


def reply_note(review: dict | None) -> str:
    """What the reply says about the review: what it made correct, and the problems it still sees after the
    budget. A plain pass says nothing here (the checklist shows "view review ✓")."""
    if not review:
        return ""
    n = review.get("repairs", 0)
    rounds = f"{n} repair round{'s' * (n != 1)}"
    if review.get("verdict") == "problems":
        after = f" after {rounds}" if n else ""
        return f"The review of the rendered views still sees problems{after}: " + "; ".join(review["problems"]) + "."
    if review.get("corrected") and review.get("verdict") == "pass":
        return "The review of the rendered views found " + "; ".join(review["corrected"]) + f", corrected in {rounds}."
    return ""
