"""The named numeric parameters of a build123d program, read with the AST and changed in place.

A parameter is a top-level assignment of a number literal to a plain name, bound nowhere else at
module level (a name reassigned later is derived, not free):

    length = 80.0  # mm, overall length (X) [10..500]
    teeth = 20  # count, number of teeth [8..200]
    offset_x = -5  # mm [-50..50]

The trailing comment is optional; when present its first comma-separated word is the unit if it is
a known one, a `[lo..hi]` range bounds the value, and the rest is the description.
`apply_parameters` rewrites only those literals' characters, so comments, spacing and every other
line stay byte for byte as they were.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from dataclasses import asdict, dataclass

from chat3d.domain.errors import InvalidInput

UNITS = {"mm", "cm", "m", "in", "inch", "deg", "°", "rad", "count", "%", "ratio", "turns"}
LENGTH_UNITS = {"mm", "cm", "m", "in", "inch"}
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"\[\s*({_NUM})\s*(?:\.\.\.?|…|–|—|to|,|:|\s-\s)\s*({_NUM})\s*\]")
MAX_PARAMETERS = 64


class ParameterError(InvalidInput):
    """A change the program's parameters cannot take (unknown name, out of range, not a number)."""


@dataclass
class Parameter:
    name: str
    value: float
    integer: bool  # written as an int literal and not a length: only whole numbers
    unit: str
    description: str
    min: float | None
    max: float | None
    line: int  # 1-based
    # Where the literal (with its sign) sits: line/column of start and end (end exclusive), 1-based lines.
    start: tuple[int, int] = (0, 0)
    end: tuple[int, int] = (0, 0)

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def slider_range(self) -> tuple[float, float, float]:
        """(lo, hi, step) for a slider: the declared range, else a span around the value."""
        lo, hi = self.min, self.max
        if lo is None or hi is None:
            span = max(abs(self.value) * 2, 10.0 if not self.integer else 10)
            lo = lo if lo is not None else (0.0 if self.value >= 0 else -span)
            hi = hi if hi is not None else max(span, lo + 1)
        if self.integer:
            return float(lo), float(hi), 1.0
        width = max(hi - lo, 1e-9)
        step = 10 ** math.floor(math.log10(width / 200)) if width > 0 else 0.1
        return float(lo), float(hi), float(min(max(step, 0.001), 10.0))

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("start"), out.pop("end")
        lo, hi, step = self.slider_range()
        out.update(sliderMin=lo, sliderMax=hi, step=step)
        return out


def _literal(node: ast.expr) -> float | int | None:
    """The number a literal stands for: `5`, `5.0`, `-5`, `+5.0`; None for anything else (bools too)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal(node.operand)
        if inner is not None and isinstance(node.operand, ast.Constant):
            return -inner if isinstance(node.op, ast.USub) else inner
    return None


def _module_bindings(tree: ast.Module) -> dict[str, int]:
    """How often each name is bound at module level (function and class bodies are their own scopes)."""
    counts: dict[str, int] = {}

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                counts[child.name] = counts.get(child.name, 0) + 1
                for deco in child.decorator_list:
                    visit(deco)
                continue
            if isinstance(child, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
                counts[child.id] = counts.get(child.id, 0) + 1
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                for alias in child.names:
                    bound = (alias.asname or alias.name).split(".")[0]
                    counts[bound] = counts.get(bound, 0) + 1
            elif isinstance(child, (ast.Global, ast.Nonlocal)):
                for name in child.names:
                    counts[name] = counts.get(name, 0) + 2
            visit(child)

    visit(tree)
    return counts


def _comments(code: str) -> dict[int, str]:
    """Line number -> the text of the comment on that line (without `#`)."""
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def parse_comment(comment: str) -> tuple[str, str, float | None, float | None]:
    """`mm, overall length [10..500]` -> ("mm", "overall length", 10.0, 500.0)."""
    text = comment.strip()
    lo = hi = None
    m = _RANGE.search(text)
    if m:
        lo, hi = float(m[1]), float(m[2])
        if lo > hi:
            lo, hi = hi, lo
        text = (text[: m.start()] + text[m.end() :]).strip()
    unit = ""
    head, sep, rest = text.partition(",")
    first = head.strip()
    if first.lower() in UNITS:
        unit = first.lower().replace("inch", "in").replace("°", "deg")
        text = rest.strip() if sep else ""
    else:
        word, _, after = text.partition(" ")
        if word.lower().rstrip(",:;") in UNITS:
            unit = word.lower().rstrip(",:;").replace("inch", "in").replace("°", "deg")
            text = after.strip()
    return unit, text.strip(" ,;:-—"), lo, hi


def _parse(code: str) -> ast.Module:
    try:
        return ast.parse(code)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        raise ParameterError(f"The program is not valid Python{where}: {exc.msg}.") from None


def extract_parameters(code: str) -> list[Parameter]:
    """The program's named top-level numeric parameters, in source order."""
    tree = _parse(code)
    bindings = _module_bindings(tree)
    comments = _comments(code)
    found: list[Parameter] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                continue
            name, value_node = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None and isinstance(stmt.target, ast.Name):
            name, value_node = stmt.target.id, stmt.value
        else:
            continue
        value = _literal(value_node)
        if value is None or bindings.get(name, 0) != 1 or name.startswith("__"):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        unit, description, lo, hi = parse_comment(comments.get(stmt.end_lineno or stmt.lineno, ""))
        integer = isinstance(value, int) and unit not in LENGTH_UNITS and unit not in {"deg", "rad"}
        found.append(
            Parameter(
                name=name,
                value=value,
                integer=integer,
                unit=unit or ("count" if integer else ""),
                description=description,
                min=lo,
                max=hi,
                line=stmt.lineno,
                start=(value_node.lineno, value_node.col_offset),
                end=(value_node.end_lineno or value_node.lineno, value_node.end_col_offset or value_node.col_offset),
            )
        )
        if len(found) >= MAX_PARAMETERS:
            break
    return found


def format_value(value: float, integer: bool) -> str:
    """A literal for the value: `20` for whole-number parameters, `80.0` / `12.5` for the others."""
    if integer:
        return str(int(value))
    value = float(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{value:.1f}"
    return repr(round(value, 6))


def _check(param: Parameter, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        try:
            raw = float(str(raw))
        except ValueError:
            raise ParameterError(f"{param.name} must be a number.") from None
    value = float(raw)
    if not math.isfinite(value):
        raise ParameterError(f"{param.name} must be a finite number.")
    if param.integer and value != int(value):
        raise ParameterError(f"{param.name} must be a whole number.")
    unit = f" {param.unit}" if param.unit and param.unit != "count" else ""
    if param.min is not None and value < param.min - 1e-9:
        raise ParameterError(f"{param.name} must be at least {param.min:g}{unit} (got {value:g}).")
    if param.max is not None and value > param.max + 1e-9:
        raise ParameterError(f"{param.name} must be at most {param.max:g}{unit} (got {value:g}).")
    return value


def apply_parameters(code: str, values: dict[str, float]) -> str:
    """The program with the named parameters set to new values; nothing else in the text changes."""
    if not values:
        return code
    params = {p.name: p for p in extract_parameters(code)}
    unknown = sorted(set(values) - set(params))
    if unknown:
        raise ParameterError(f"The program has no parameter named {', '.join(unknown)}.", {"unknown": unknown})
    lines = code.splitlines(keepends=True)
    edits = []
    for name, raw in values.items():
        p = params[name]
        edits.append((p, format_value(_check(p, raw), p.integer)))
    # Replace from the end so earlier positions stay valid. Columns are UTF-8 byte offsets in the AST.
    for p, literal in sorted(edits, key=lambda e: e[0].start, reverse=True):
        (l1, c1), (l2, c2) = p.start, p.end
        first = lines[l1 - 1].encode("utf-8")
        last = lines[l2 - 1].encode("utf-8")
        merged = first[:c1] + literal.encode("utf-8") + last[c2:]
        lines[l1 - 1 : l2] = [merged.decode("utf-8")]
    return "".join(lines)


def parameter_values(code: str) -> dict[str, float]:
    """name -> value, for comparing versions."""
    try:
        return {p.name: p.value for p in extract_parameters(code)}
    except ParameterError:
        return {}
