"""Reading part requests without a model: which family, which dimensions, which change.

A part is a `PartSpec` (family + named parameter values, `model.py`). Requests, briefs and previously
generated code all turn into a PartSpec, and a PartSpec turns back into a brief (`describe`)
that parses to the same spec, so the conversation and codegen sides agree without a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import overload

from chat3d.llm.offline.families import FAMILIES
from chat3d.llm.offline.model import Family, Param, PartSpec, complete_spec

INCH_MM = 25.4
_NUMBER = r"(?P<v>\d+(?:\.\d+)?)(?!\.?\d)"  # the whole number, never the 5 of "58"
_UNITS = r"mm|cm|inch|in"  # `normalize` spells every inch as "inch"; a bare "in" may still be one
# a bare "in" is an inch only when it is not the start of "in length", "in diameter", ...
_UNIT = r"(?P<u>mm|cm|inch|in(?!\s+(?:length|width|height|diameter|depth|thickness|size|total)))?(?![a-z])"
_VALUE = _NUMBER + r"\s*" + _UNIT
_VALUE_WITH_UNIT = _NUMBER + rf"\s*(?P<u>{_UNITS})\b"
_COUNT = r"(?<![\w.])(?P<v>\d+)(?![.\d])"  # not the 8 of "M8"
_IS = r"\s*(?:of|=|:|to|is|at)?\s*"

# Concept patterns, most specific first: each match consumes its number so that, e.g., the
# "4" of "4 mm holes" is not read again as an outer diameter.
_BOLT_CIRCLE = r"(?:bolt[- ]?circle|bolt[- ]?hole circle|p\.?c\.?d\b\.?|pitch[- ]circle|b\.?c\.?d\b\.?)"
_ROUND_PARTS = r"(?:flange|knob|dial|disc|disk|washer|ring|gear|cog|wheel|puck|spacer|bushing|vase|pot|planter|spring)"
# after a value: it places holes ("60 mm apart", "58 x 49 pattern", "5 mm from the edge"), it does not size them
_NOT_PLACEMENT = r"(?!\s*(?:mm|cm|inch|in)?\s*x\s*\d)(?!\s*(?:mm|cm|inch|in)?\s*(?:apart|spacing|pitch|pattern|on cent|cent(?:er|re)s|from|in from|inset)\b)"
CONCEPTS: list[tuple[str, list[str]]] = [
    (
        "edge_fillet",
        [
            _VALUE
            + r"\s*(?:radius\s+)?(?:fillets?|round(?:ing|over)s?|rounded edges)\b(?!\s*(?:on|at|to)?\s*(?:the\s+)?(?:4\s+|§\s*)?(?:vertical|side)?\s*corners)",
            r"\b(?:fillets?|rounded edges|edge radius)" + r"(?:\s+radius)?" + _IS + _VALUE,
            r"\b(?:round|fillet)(?:ed)?\s+(?:(?:off|over|all|every|the)\s+)*edges?(?:\s+(?:with|by|to|at))?(?:\s+an?)?"
            + _IS
            + _VALUE,
        ],
    ),
    (
        "corner_radius",
        [
            _VALUE
            + r"\s*(?:corner radius|radius corners|(?:radius\s+)?(?:rounded\s+)?corners|(?:fillets?|rounding)\s+(?:on|at|to)\s+(?:the\s+)?(?:§\s*)?(?:vertical\s+)?corners)\b",
            r"\b(?:corner radius|rounded corners|corner fillets?)" + _IS + _VALUE,
        ],
    ),
    (
        "angle",
        [
            r"(?P<v>\d+(?:\.\d+)?)\s*(?:°|deg(?:rees?|s)?\b)",
            r"\b(?:angle|angled(?: back)?|tilted(?: back)?|leaning(?: back)?|inclined)"
            + _IS
            + r"(?P<v>\d+(?:\.\d+)?)(?!\s*(?:mm|cm|inch|in)\b)",
        ],
    ),
    (
        "bolt_circle",
        [
            _VALUE + r"\s*" + _BOLT_CIRCLE,
            r"\b" + _BOLT_CIRCLE + r"(?:\s+(?:diameter|dia\b\.?))?" + r"\s*(?:of|=|:|is|at)?\s*" + _VALUE,
        ],
    ),
    (
        "hole_diameter",
        [
            _VALUE_WITH_UNIT
            + r"\s*(?:diameter\s+|dia\.?\s+)?(?:(?:through|mounting|bolt|screw|clearance)[- ]?)?holes?\b",
            r"\bholes?\s*(?:with a|with|of)?\s*(?:diameter|dia\.?|ø)?" + _IS + _VALUE + _NOT_PLACEMENT,
            r"\bhole diameter" + _IS + _VALUE,
        ],
    ),
    (
        "hole_count",
        [
            _COUNT + r"\s+(?:x\s+)?(?:§\s*)?(?:(?:through|mounting|bolt|screw|clearance)[- ]?)?holes?\b",
            r"\bholes?" + _IS + r"\(?" + _COUNT + r"\)?(?!\s*(?:mm|cm|inch|in)\b)(?!\s*x\s*\d)",
        ],
    ),
    (
        "bore",
        [
            _VALUE + r"\s*(?:center |centre |central )?(?:bore|shaft hole|shaft|axle hole)\b",
            r"\b(?:bore|shaft|axle)(?: hole)?(?: diameter)?" + _IS + _VALUE,
        ],
    ),
    (
        "inner_diameter",
        [
            _VALUE + r"\s*(?:id|inner diameter|inside diameter)\b",
            r"\b(?:inner|inside) diameter" + _IS + _VALUE,
            r"\bid" + _IS + _VALUE,
        ],
    ),
    ("wire", [_VALUE + r"\s*wire\b", r"\bwire(?: diameter| thickness)?" + _IS + _VALUE]),
    ("pitch", [_VALUE + r"\s*pitch\b", r"\bpitch" + _IS + _VALUE]),
    ("turns", [_COUNT + r"\s*(?:turns|coils|windings)\b", r"\b(?:turns|coils)" + _IS + _COUNT]),
    ("teeth", [_COUNT + r"\s*(?:teeth|tooth)\b", r"\bteeth" + _IS + _COUNT]),
    ("module", [r"\bmodule" + _IS + _VALUE, r"\bm\s*=\s*" + _VALUE]),
    (
        "top",
        [_VALUE + r"\s*(?:top|opening|mouth|neck)\b", r"\b(?:top|opening|mouth|neck)(?: diameter)?" + _IS + _VALUE],
    ),
    ("base", [_VALUE + r"\s*(?:base|foot|bottom)\b", r"\b(?:base|foot|bottom)(?: diameter)?" + _IS + _VALUE]),
    ("grooves", [_COUNT + r"\s*(?:grooves|ridges|flutes|grips)\b", r"\b(?:grooves|ridges|flutes)" + _IS + _COUNT]),
    ("compartments", [_COUNT + r"\s*(?:compartments|sections|cells|pockets)\b"]),
    ("dividers", [_COUNT + r"\s*dividers?\b"]),
    ("wall", [_VALUE + r"\s*(?:walls?|wall thickness)\b", r"\bwalls?(?: thickness)?" + _IS + _VALUE]),
    ("cube", [_VALUE + r"\s*cube\b", r"\bcube(?: side)?" + _IS + _VALUE]),
    ("radius", [_VALUE + r"\s*radius\b", r"\bradius" + _IS + _VALUE]),
    (
        "diameter",
        [
            _VALUE + r"\s*(?:diameter|dia\b\.?|od\b|outer diameter|outside diameter|across)",
            r"\b(?:outer |outside )?diameter" + _IS + _VALUE,
            r"(?:ø|⌀|\bod\b)\s*" + _VALUE,
            _VALUE_WITH_UNIT + r"\s+(?:[a-z-]+\s+)?" + _ROUND_PARTS + r"\b",  # "a 120 mm flange"
        ],
    ),
    ("length", [_VALUE + r"\s*(?:long|in length)\b", r"\blength" + _IS + _VALUE]),
    ("width", [_VALUE + r"\s*(?:wide|in width)\b", r"\bwidth" + _IS + _VALUE]),
    ("height", [_VALUE + r"\s*(?:tall|high|in height)\b", r"\bheight" + _IS + _VALUE]),
    ("depth", [_VALUE + r"\s*deep\b", r"\bdepth" + _IS + _VALUE]),
    ("thickness", [_VALUE + r"\s*thick\b", r"\bthickness" + _IS + _VALUE]),
]
COUNT_CONCEPTS = {"hole_count", "turns", "teeth", "grooves", "compartments", "dividers", "angle"}
# ISO 273 medium clearance holes for metric screws: "M8 holes" are 9 mm holes.
METRIC_CLEARANCE = {
    2: 2.4,
    2.5: 2.9,
    3: 3.4,
    4: 4.5,
    5: 5.5,
    6: 6.6,
    8: 9.0,
    10: 11.0,
    12: 13.5,
    14: 15.5,
    16: 17.5,
    20: 22.0,
    24: 26.0,
}

# Features a request can name without a number. Each family lists the ones it models (`Family.features`);
# any other one a request names is reported as not modelled, never silently dropped.
FEATURES: dict[str, str] = {
    "a lid": r"\blids?\b",
    "fillets or rounded edges": r"\bfillet(?:s|ed)?\b|\brounded (?:edges?|corners?)\b|\bround(?:ed)? ?over\b|\bradiused\b",
    "chamfers": r"\bchamfer(?:s|ed)?\b|\bbevel(?:s|led|ed)?\b",
    "countersunk or counterbored holes": r"\bcounter ?(?:sunk|sink|bored?)\b|\bcsk\b",
    "slots": r"\bslots?\b|\bslotted\b",
    "text or engraving": r"\b(?:text|engrav\w*|emboss\w*|logo|lettering|inscri\w+)\b",
    "a handle": r"\bhandles?\b",
    "threads": r"\bthread(?:s|ed)?\b|\btapped\b",
    "hinges": r"\bhinge[sd]?\b",
    "snap fits or clips": r"\bsnap(?:[- ]fit)?s?\b|\bclips?\b|\blatch(?:es)?\b",
    "vents": r"\bvent(?:s|ilation|ilated)?\b|\bgrilles?\b|\blouvers?\b",
    "cutouts, pockets or windows": r"\bcut-?outs?\b|\bpockets?\b|\brecess(?:es|ed)?\b|\bwindows?\b|\bports?\b",
    "ribs or gussets": r"\bribs?\b|\bgussets?\b|\bstiffeners?\b",
    "holes": r"\bholes?\b",
    "an angle": r"°|\bdeg(?:rees?|s)?\b|\bangled\b|\btilt(?:ed)?\b",
    "standoffs or bosses": r"\bbosse?s?\b|\bstandoffs?\b",
    "a hole pattern or spacing": r"\bpattern\b|\bspacing\b|\bapart\b|\bon cent(?:er|re)s\b",
    "a bolt circle": _BOLT_CIRCLE,
    "feet": r"\bfeet\b|\bfoot\b",
    "a hook or loop": r"\bhooks?\b|\bloops?\b|\beyelets?\b",
    "a mirrored or patterned copy": r"\bmirror(?:ed)?\b|\barray\b",
}

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "sixteen": 16,
    "twenty": 20,
    "a dozen": 12,
    "a pair of": 2,
    "a couple of": 2,
    "single": 1,
}


def normalize(text: str) -> str:
    """Lower-case, number words to digits, one spelling per unit, "x" between dimensions."""
    text = text.lower()
    for word, number in _NUMBER_WORDS.items():
        text = re.sub(rf"\b{word}\b", str(number), text)
    text = re.sub(r"(\d+)-(\d+)/(\d+)", lambda m: f"{int(m[1]) + int(m[2]) / int(m[3]):g}", text)  # 1-1/2
    text = re.sub(r"(\d+)\s*/\s*(\d+)", lambda m: f"{int(m[1]) / int(m[2]):g}", text)
    text = re.sub(r"(\d)\s*(?:\"|''|inch(?:es)?\b)", r"\1 inch", text)
    text = re.sub(r"(\d)\s*-?\s*(?:millimet(?:er|re)s?)\b", r"\1 mm", text)
    text = re.sub(r"(\d)\s*-?\s*(?:centimet(?:er|re)s?)\b", r"\1 cm", text)
    text = re.sub(rf"(\d)-({_UNITS})\b", r"\1 \2", text)
    text = re.sub(r"(\d)\s*(?:[×*]|\bby\b)\s*(?=\d)", r"\1 x ", text)
    return re.sub(r"(\d)x(?=\s*\d)", r"\1 x", text)


def _to_mm(value: str, unit: str | None) -> float:
    return float(value) * {"cm": 10.0, "in": INCH_MM, "inch": INCH_MM}.get(unit or "mm", 1.0)


def _plus(delta: float) -> Callable[[float], float]:
    return lambda value: value + delta


def _times(factor: float) -> Callable[[float], float]:
    return lambda value: value * factor


def _consume(text: str, start: int, end: int) -> str:
    """Blank out a matched value (keeping positions) so no later pattern reads it again."""
    return text[:start] + "§" + " " * (end - start - 1) + text[end:]


def _find_dims(text: str) -> tuple[list[float], str]:
    """ "80 x 50 x 5 mm" or "3 x 2 in": a unit written once applies to every number."""
    pattern = (
        rf"(?P<a>\d+(?:\.\d+)?)\s*(?P<ua>{_UNITS})?\s*x\s*(?P<b>\d+(?:\.\d+)?)\s*(?P<ub>{_UNITS})?"
        rf"(?:\s*x\s*(?P<c>\d+(?:\.\d+)?)\s*(?P<uc>{_UNITS})?)?(?![a-z])(?!\s*(?:compartments|grid|cells))"
    )
    # "58 x 49 mm hole pattern" / "holes 58 x 49 apart" place holes; they never size the part
    not_size = re.compile(
        r"\s*(?:mm|cm|inch|in)?\s*(?:(?:mounting|bolt|screw|hole)\s+)*(?:pattern|spacing|apart|cent(?:er|re)s|grid)"
        r"|\s*(?:mm|cm|inch|in)?\s*(?:(?:through|mounting|bolt|screw|clearance)[- ]?)?holes?\b"
    )
    match = next(
        (
            m
            for m in re.finditer(pattern, text)
            if not not_size.match(text, m.end())
            and not re.search(r"(?:pattern|spacing|cent(?:er|re)s)\s*(?:of|:)?\s*$", text[: m.start()])
        ),
        None,
    )
    if not match:
        return [], text
    numbers = [match["a"], match["b"]] + ([match["c"]] if match["c"] else [])
    units = [match["ua"], match["ub"], match["uc"]][: len(numbers)]
    last_unit = next((u for u in reversed(units) if u), None)
    dims = [_to_mm(n, u or last_unit) for n, u in zip(numbers, units)]
    return dims, _consume(text, match.start(), match.end())


def find_concepts(text: str, spans: dict[str, str] | None = None) -> tuple[dict[str, float], str]:
    """Every dimension or count the text states, by concept; returns the text with them consumed.
    `spans`, when given, receives the words each concept was read from (to name the ones not modelled)."""
    found: dict[str, float] = {}
    spans = spans if spans is not None else {}
    holes = re.search(
        rf"{_COUNT}\s*x\s*(?P<d>\d+(?:\.\d+)?)\s*(?P<u>mm|cm|inch|in)?\s*(?:(?:through|mounting|bolt|screw|clearance)[- ]?)?holes?\b",
        text,
    )
    if holes:  # "4 x 6 mm holes": a count and a diameter
        found["hole_count"], found["hole_diameter"] = float(holes["v"]), _to_mm(holes["d"], holes["u"])
        spans["hole_count"] = spans["hole_diameter"] = holes[0]
        text = _consume(text, holes.start(), holes.end())
    metric = re.search(
        r"\bm(?P<v>\d+(?:\.\d)?)\s+(?:(?:bolt|screw|clearance|mounting|through)[- ]?)*(?:holes?|bolts?|screws?)\b", text
    )
    if metric and float(metric["v"]) in METRIC_CLEARANCE:
        found["hole_diameter"] = METRIC_CLEARANCE[float(metric["v"])]
        spans["hole_diameter"] = metric[0]
        text = _consume(text, metric.start(), metric.end("v"))
    grid = re.search(r"(?P<a>\d+)\s*x\s*(?P<b>\d+)\s*(?:compartments|grid|cells)", text)
    if grid:
        found["compartments"], found["compartments_y"] = float(grid["a"]), float(grid["b"])
        spans["compartments"] = spans["compartments_y"] = grid[0]
        text = _consume(text, grid.start(), grid.end())
    for concept, patterns in CONCEPTS:
        for pattern in patterns:
            match = re.search(pattern, text)
            if match and concept not in found:
                unit = match.groupdict().get("u")
                count = concept in COUNT_CONCEPTS
                found[concept] = float(match["v"]) if count else _to_mm(match["v"], unit)
                spans[concept] = match[0].replace("§", "").strip()
                text = _consume(text, match.start("v"), match.end("u") if unit else match.end("v"))
    if "radius" in found and "diameter" not in found:
        found["diameter"] = 2 * found["radius"]
    return found, text


def _labelled(family: Family, text: str) -> tuple[dict[str, float], str]:
    """Values written as "<parameter label>: <value>", the form `describe` produces."""
    values: dict[str, float] = {}
    for param in sorted(family.params, key=lambda p: -len(p.label)):  # "hole diameter" before "diameter"
        match = re.search(rf"\b{param.label}\s*[:=]\s*{_VALUE}", text)
        if match:
            values[param.name] = float(match["v"]) if param.count else _to_mm(match["v"], match["u"])
            text = _consume(text, match.start(), match.end())
    return values, text


@dataclass
class Reading:
    """What a request says for one family: the parameter values it sets, and every part of it the family
    cannot model (named features, numbers that set no parameter, values outside a parameter's range)."""

    values: dict[str, float]
    unmodelled: list[str]


def read_request(family: Family, text: str) -> Reading:
    """The family's parameters that `text` sets explicitly (labels, "A x B x C", phrases, on/off features),
    and what it asks for that the family's template does not model."""
    text = normalize(text)
    original = text
    values, text = _labelled(family, text)
    unmodelled: list[str] = []
    dims, text = _find_dims(text)
    for name, value in zip(family.dims, dims):
        values.setdefault(name, value)
    if len(dims) > len(family.dims):
        unmodelled.append(" x ".join(f"{d:g}" for d in dims) + " mm as overall dimensions")
    spans: dict[str, str] = {}
    found, rest = find_concepts(text, spans)
    used = set(family.reads)
    for concept, value in found.items():
        param = family.param_for(concept)
        if param:
            used.add(concept)
            if param.name not in values:
                values[param.name] = value
    if "radius" in found and family.param_for("diameter"):
        used.add("radius")
    for param_name, on, off in family.toggles:
        if param_name in values:
            continue
        if re.search(off, text):
            values[param_name] = 0
        elif re.search(on, text):
            values[param_name] = 1
    if family.adjust:
        family.adjust(values, found)
    for concept in found:
        if concept not in used and spans.get(concept) and spans[concept] not in unmodelled:
            unmodelled.append(spans[concept])
    # numbers nothing read: the number and the words after it ("58 x 49 mm pattern")
    for match in re.finditer(
        r"(?<![\w.§])\d+(?:\.\d+)?(?:\s*(?:x|mm|cm|inch|in|%)\b|\s*(?:x\s*)?\d+(?:\.\d+)?)*"
        r"(?:\s+[a-z-]+){0,3}",
        rest,
    ):
        phrase = re.sub(r"(?:\s+(?:the|a|an|each|of|with|and|on|at|to|for|in|from))+$", "", match[0].strip(" ,.;"))
        if phrase and phrase not in unmodelled:
            unmodelled.append(phrase)
    for name, pattern in FEATURES.items():
        if (
            name not in family.features
            and re.search(pattern, original)
            and not any(re.search(pattern, phrase) for phrase in unmodelled)
        ):
            unmodelled.append(name)
    for param in family.params:
        if param.name in values and not param.lo - 1e-9 <= values[param.name] <= param.hi + 1e-9:
            unit = "°" if param.unit == "deg" else f" {param.unit}"
            unmodelled.append(
                f"{param.label} {values[param.name]:g}{unit} (the template allows {param.lo:g}–{param.hi:g}{unit})"
            )
    return Reading(values, unmodelled)


def stated_values(family: Family, text: str) -> dict[str, float]:
    """The family's parameters that `text` sets explicitly (labels, "A x B x C", phrases)."""
    return read_request(family, text).values


def detect_family(text: str) -> Family | None:
    """The first family (in `FAMILIES` order) whose keywords the text names."""
    text = normalize(text)
    return next((f for f in FAMILIES if re.search(f.keywords, text)), None)


def has_dimensions(text: str) -> bool:
    return bool(_find_dims(normalize(text))[0])


@overload
def parse_part(text: str, family: Family) -> PartSpec: ...
@overload
def parse_part(text: str, family: Family | None = None) -> PartSpec | None: ...
def parse_part(text: str, family: Family | None = None) -> PartSpec | None:
    """A fresh part from a request or brief; None when it names no family we can build."""
    family = family or detect_family(text)
    if family is None:
        return None
    values = stated_values(family, text)
    spec = complete_spec(family, values)
    for pattern, name, value in family.implied:
        if name not in values and re.search(pattern, normalize(text)):
            values[name] = value(spec.params) if callable(value) else value
    return complete_spec(family, values)


# --- changes to an existing part ------------------------------------------------------------

_ADJECTIVES = {
    "thicker": ("thickness", 1),
    "thinner": ("thickness", -1),
    "taller": ("height", 1),
    "higher": ("height", 1),
    "shorter": ("length", -1),
    "lower": ("height", -1),
    "longer": ("length", 1),
    "wider": ("width", 1),
    "narrower": ("width", -1),
    "deeper": ("depth", 1),
    "shallower": ("depth", -1),
    "bigger": ("size", 1),
    "larger": ("size", 1),
    "smaller": ("size", -1),
}
_NOUNS = {
    "thick": "thickness",
    "tall": "height",
    "high": "height",
    "long": "length",
    "wide": "width",
    "deep": "depth",
    "big": "size",
    "large": "size",
}
_FALLBACK = {"depth": "height", "length": "height", "thickness": "wall", "height": "thickness", "size": "diameter"}


def _param_for(family: Family, concept: str) -> Param | None:
    """The parameter a change word means for this family ("thicker" on an enclosure = wall)."""
    if concept == "size":
        return family.param(family.dims[0]) if family.dims else family.param_for("diameter")
    return family.param_for(concept) or family.param_for(_FALLBACK.get(concept, ""))


def apply_change(spec: PartSpec, request: str) -> PartSpec:
    """The part after a follow-up request: relative changes ("10 mm thicker", "add 2 holes",
    "twice as long", "20% smaller") and restated values ("length 120", "6 holes")."""
    return read_change(spec, request)[0]


def read_change(spec: PartSpec, request: str) -> tuple[PartSpec, list[str]]:
    """`apply_change`, and what the request asks for that the family cannot model (see `read_request`)."""
    family, values = spec.family, dict(spec.params)
    text = normalize(request)

    def change(concept: str, update: Callable[[float], float]) -> None:
        param = _param_for(family, concept)
        if param:
            values[param.name] = update(values[param.name])

    for match in re.finditer(rf"{_VALUE}\s*(?P<adj>{'|'.join(_ADJECTIVES)})\b", text):
        concept, sign = _ADJECTIVES[match["adj"]]
        delta = sign * _to_mm(match["v"], match["u"])
        change(concept, _plus(delta))
        text = _consume(text, match.start(), match.end())
    for match in re.finditer(rf"\b(?P<adj>{'|'.join(_ADJECTIVES)}) by {_VALUE}", text):
        concept, sign = _ADJECTIVES[match["adj"]]
        delta = sign * _to_mm(match["v"], match["u"])
        change(concept, _plus(delta))
        text = _consume(text, match.start(), match.end())
    for match in re.finditer(r"\b(?P<how>twice|double|triple|half)\s+(?:as\s+|the\s+)?(?P<what>\w+)", text):
        factor = {"twice": 2.0, "double": 2.0, "triple": 3.0, "half": 0.5}[match["how"]]
        what = match["what"]
        if what in ("size", "big", "large"):
            values = _scaled(family, values, factor)
        else:
            change(_NOUNS.get(what, what), _times(factor))
        text = _consume(text, match.start(), match.end())
    for match in re.finditer(rf"{_NUMBER}\s*%\s*(?P<dir>bigger|larger|smaller)", text):
        percent = float(match["v"]) / 100
        values = _scaled(family, values, 1 + percent if match["dir"] != "smaller" else 1 - percent)
        text = _consume(text, match.start(), match.end())

    hole_count = family.param_for("hole_count")
    if hole_count:
        added = re.search(rf"\badd\s+(?:another\s+)?{_COUNT}\s+(?:more\s+)?(?:\w+\s+)?holes?", text) or re.search(
            rf"{_COUNT}\s+more\s+holes?", text
        )
        if added:
            values[hole_count.name] += int(added["v"])
            text = _consume(text, added.start(), added.end())
        elif re.search(r"\b(?:no|without|remove (?:the |all )?)\s*holes\b", text):
            values[hole_count.name] = 0

    reading = read_request(family, text)
    values.update(reading.values)
    return complete_spec(family, values), reading.unmodelled


def _scaled(family: Family, values: dict[str, float], factor: float) -> dict[str, float]:
    """Scale every length (not counts, not the gear module's tooth count) by `factor`."""
    return {k: v if family.param(k).count else v * factor for k, v in values.items()}


def format_number(value: float) -> str:
    """A value as people write it (no trailing zeros), exact to the 0.001 mm the parameters are kept to."""
    return f"{round(value, 3):.10g}"


def describe(spec: PartSpec) -> str:
    """A precise brief that `parse_part` reads back to the same spec."""
    parts = [
        f"{p.label}: {format_number(spec.params[p.name])}" + ("" if p.count else f" {p.unit}")
        for p in spec.family.params
    ]
    return f"{spec.family.title} — " + "; ".join(parts) + "."
