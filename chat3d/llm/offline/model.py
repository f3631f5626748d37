"""The offline provider's part model: a template `Family` of `Param`s, and a `PartSpec` (family + values).

Both the templates (`families.py`) and the request reader (`spec.py`) build on it. The templates need nothing
else, so the reader imports the families it matches requests against without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Param:
    name: str
    default: float | Callable[[dict], float]  # a callable derives the default from the other values
    doc: str
    lo: float
    hi: float
    concepts: tuple[str, ...] = ()
    unit: str = "mm"  # "mm", "deg", or "count" for integers

    @property
    def count(self) -> bool:
        return self.unit == "count"

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def clamp(self, value: float) -> float:
        value = min(max(value, self.lo), self.hi)
        return int(round(value)) if self.count else round(value, 3)


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    keywords: str  # regex that names this family in a request
    params: tuple[Param, ...]
    body: str  # build123d code after the parameter block; leaves the shape in `result`
    dims: tuple[str, ...] = ()  # what "A x B x C" means for this family
    imports: tuple[str, ...] = ()  # extra import lines the body needs
    # values a fresh request implies without stating them: (regex, parameter, value or f(params))
    implied: tuple[tuple[str, str, float | Callable[[dict], float]], ...] = ()
    adjust: Callable[[dict, dict], None] | None = None  # family-specific reading of found concepts
    reads: tuple[str, ...] = ()  # concepts `adjust` turns into parameters (so they count as modelled)
    # on/off features named by words, not numbers: (parameter, regex that turns it on, regex that turns it off)
    toggles: tuple[tuple[str, str, str], ...] = ()
    features: tuple[str, ...] = ()  # names of `spec.FEATURES` this family models
    # The extents, each where it is exact (None where it is not), or None when none is.
    bbox: Callable[[dict], list[float | None] | None] = lambda p: None

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def param_for(self, concept: str) -> Param | None:
        return next((p for p in self.params if concept in p.concepts), None)


@dataclass
class PartSpec:
    family: Family
    params: dict[str, float] = field(default_factory=dict)


def exact_extents(spec: PartSpec) -> list[float] | None:
    """The part's X, Y, Z extents when all three are exact (the family's `bbox`), else None."""
    bbox = spec.family.bbox(spec.params)
    exact = [v for v in bbox if v is not None] if bbox else []
    return exact if bbox and len(exact) == len(bbox) else None


def complete_spec(family: Family, values: dict[str, float]) -> PartSpec:
    """Fill unstated parameters with defaults (derived ones last) and clamp everything to range."""
    params: dict[str, float] = {}
    for param in family.params:
        if param.name in values:
            params[param.name] = param.clamp(values[param.name])
        elif not callable(param.default):
            params[param.name] = param.clamp(param.default)
    for param in family.params:
        if param.name not in params and callable(param.default):  # derived: unstated, with a callable default
            params[param.name] = param.clamp(param.default(params))
    return PartSpec(family, {p.name: params[p.name] for p in family.params})
