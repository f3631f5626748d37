"""Benchmark suites the harness can run: the project's own copy under bench/eval/<name>/."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SUITES_DIR = Path(__file__).resolve().parent
SUITES = ("cadqueryeval",)


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    bbox_mm: tuple[float, float, float]
    expected_components: int
    reference: Path
    difficulty: int | None


def _order(path: Path) -> tuple[int, str]:
    m = re.search(r"(\d+)$", path.stem)
    return (int(m.group(1)) if m else 10**6, path.stem)


def _bbox(values: list) -> tuple[float, float, float]:
    """A task's bounding box, X, Y, Z in millimetres."""
    x, y, z = (float(v) for v in values)
    return x, y, z


def load_tasks(suite: str = "cadqueryeval", only: list[str] | None = None) -> list[Task]:
    """The suite's tasks in numeric order (task1, task2, …), optionally only the named ids."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
    root = SUITES_DIR / suite
    tasks = []
    for path in sorted((root / "tasks").glob("*.yaml"), key=_order):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        req = raw.get("requirements") or {}
        tasks.append(Task(
            id=str(raw.get("task_id") or path.stem),
            prompt=str(raw["description"]).strip(),
            bbox_mm=_bbox(req["bounding_box"]),
            expected_components=int((req.get("topology_requirements") or {}).get("expected_component_count", 1)),
            reference=(root / "reference" / f"{path.stem}.stl"),
            difficulty=raw.get("manual_operations"),
        ))
    if only:
        missing = sorted(set(only) - {t.id for t in tasks})
        if missing:
            raise ValueError(f"no such task in {suite}: {', '.join(missing)}")
        tasks = [t for t in tasks if t.id in only]
    return tasks


def published_results(suite: str = "cadqueryeval") -> list[dict]:
    """The benchmark's own published one-shot results (model_id, accuracy, cost_usd, …), best first."""
    with open(SUITES_DIR / suite / "published_results.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return sorted(rows, key=lambda r: -float(r["accuracy"]))
