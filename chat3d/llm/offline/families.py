"""The part families the offline provider can build, each a parametric build123d template.

Generated programs start with one named, commented parameter per line so people (and the
offline provider on a follow-up request) can change a dimension by editing one number.
"""

from __future__ import annotations

import re

from chat3d.domain.parameters import ParameterError, extract_parameters
from chat3d.llm.offline.model import Family, Param, PartSpec, complete_spec

HEADER = "# Chat3D offline template: "
LID_GAP = 10.0  # mm between an enclosure and its lid
_FLOOR = "align=(Align.CENTER, Align.CENTER, Align.MIN)"


def _tube_wall(values: dict, found: dict) -> None:
    if "wall" in found and "inner_diameter" not in values:
        values["inner_diameter"] = values.get("outer_diameter", 30.0) - 2 * found["wall"]


def _gear_size(values: dict, found: dict) -> None:
    """ "a 44 mm gear with 20 teeth": the outside diameter fixes the module."""
    if "diameter" in found and "module" not in values:
        values["module"] = found["diameter"] / (values.get("teeth", 20) + 2)


def _spring_length(values: dict, found: dict) -> None:
    length = found.get("length", found.get("height"))
    if length and "pitch" not in values:
        values["pitch"] = length / values.get("turns", 6)


def _tray_grid(values: dict, found: dict) -> None:
    if "dividers" in found and "compartments_x" not in values:
        values["compartments_x"] = found["dividers"] + 1
    if "compartments_y" in found:
        values["compartments_y"] = found["compartments_y"]


def _cube(values: dict, found: dict) -> None:
    if "cube" in found:
        for name in ("length", "width", "thickness"):
            values.setdefault(name, found["cube"])


PLATE = Family(
    name="plate",
    title="Plate/block",
    keywords=r"\b(?:plate|box|block|cube|panel|slab|sheet|cuboid)\b",
    params=(
        Param("length", 80.0, "overall length (X)", 1, 1000, ("length",)),
        Param("width", 50.0, "overall width (Y)", 1, 1000, ("width", "depth")),
        Param("thickness", 5.0, "thickness (Z)", 0.5, 500, ("thickness", "height")),
        Param(
            "hole_count",
            0,
            "through holes; 4 sit at the corners, odd counts on the centre line",
            0,
            48,
            ("hole_count",),
            "count",
        ),
        Param("hole_diameter", 4.0, "through-hole diameter", 0.5, 100, ("hole_diameter",)),
        Param("corner_radius", 0.0, "radius of the four vertical corners; 0 for square", 0, 250, ("corner_radius",)),
        Param("edge_fillet", 0.0, "fillet radius on every edge; 0 for sharp", 0, 250, ("edge_fillet",)),
    ),
    dims=("length", "width", "thickness"),
    implied=((r"\bholes\b", "hole_count", 4), (r"\ba (?:§\s*)?(?:[a-z-]+ )?hole\b", "hole_count", 1)),
    adjust=_cube,
    reads=("cube",),
    features=("holes", "fillets or rounded edges"),
    bbox=lambda p: [p["length"], p["width"], p["thickness"]],
    body=f"""\
# Holes sit on a grid inset from the edges: two rows for even counts from 4, else one row.
margin = max(1.5 * hole_diameter, 0.12 * min(length, width))
rows = 2 if hole_count >= 4 and hole_count % 2 == 0 else 1
columns = hole_count // rows
# Roundings must stay smaller than half the side they round.
corner = min(corner_radius, 0.49 * min(length, width))
rounding = min(edge_fillet, 0.49 * min(length, width, thickness), 0.9 * corner if corner > 0 else edge_fillet)

with BuildPart() as part:
    Box(length, width, thickness, {_FLOOR})
    if corner > 0:
        fillet(part.edges().filter_by(Axis.Z), radius=corner)
    if rounding > 0:
        fillet(part.edges(), radius=rounding)
    if hole_count > 0:
        with GridLocations((length - 2 * margin) / max(columns - 1, 1), width - 2 * margin, columns, rows):
            Hole(hole_diameter / 2)

result = part.part
""",
)

CYLINDER = Family(
    name="cylinder",
    title="Cylinder/tube",
    keywords=r"\b(?:cylinder|cylindrical|tube|pipe|rod|spacer|bushing|washer|ring|sleeve|standoff|disc|disk|puck|dowel)\b",
    params=(
        Param("outer_diameter", 30.0, "outer diameter", 1, 1000, ("diameter",)),
        Param(
            "inner_diameter",
            0.0,
            "bore through the middle; 0 for a solid cylinder",
            0,
            990,
            ("inner_diameter", "bore", "hole_diameter"),
        ),
        Param("height", 40.0, "height (Z)", 0.5, 1000, ("height", "length", "thickness")),
    ),
    implied=(
        (
            r"\b(?:tube|pipe|spacer|bushing|washer|ring|sleeve|standoff)\b",
            "inner_diameter",
            lambda p: round(p["outer_diameter"] * 0.6, 1),
        ),
    ),
    adjust=_tube_wall,
    reads=("wall",),
    features=("holes",),
    bbox=lambda p: [p["outer_diameter"], p["outer_diameter"], p["height"]],
    body=f"""\
bore = min(inner_diameter, outer_diameter - 1.0)  # keep at least a 0.5 mm wall

result = Cylinder(outer_diameter / 2, height, {_FLOOR})
if bore > 0:
    result -= Cylinder(bore / 2, height, {_FLOOR})
""",
)

FLANGE = Family(
    name="flange",
    title="Flange",
    keywords=r"\bflange",
    params=(
        Param("outer_diameter", 100.0, "outer diameter", 10, 1000, ("diameter",)),
        Param("thickness", 10.0, "thickness (Z)", 1, 200, ("thickness", "height")),
        Param("bore_diameter", 30.0, "central bore", 0, 900, ("bore", "inner_diameter")),
        Param("bolt_count", 6, "bolt holes on the bolt circle", 0, 36, ("hole_count",), "count"),
        Param("bolt_hole_diameter", 8.0, "bolt hole diameter", 1, 100, ("hole_diameter",)),
        Param(
            "bolt_circle_diameter",
            lambda p: (p["outer_diameter"] + p["bore_diameter"]) / 2,
            "bolt circle diameter",
            2,
            1000,
            ("bolt_circle",),
        ),
    ),
    features=("holes", "a bolt circle"),
    bbox=lambda p: [p["outer_diameter"], p["outer_diameter"], p["thickness"]],
    body=f"""\
bolt_circle = min(bolt_circle_diameter, outer_diameter - 2 * bolt_hole_diameter)  # keep bolt holes inside the rim

with BuildPart() as part:
    Cylinder(outer_diameter / 2, thickness, {_FLOOR})
    if bore_diameter > 0:
        Hole(bore_diameter / 2)
    if bolt_count > 0:
        with PolarLocations(bolt_circle / 2, bolt_count):
            Hole(bolt_hole_diameter / 2)

result = part.part
""",
)

L_BRACKET = Family(
    name="l_bracket",
    title="L-bracket",
    keywords=r"\b(?:l[- ]?bracket|angle bracket|bracket|l[- ]shaped|angle iron)",
    params=(
        Param("length", 60.0, "horizontal leg length (X)", 5, 1000, ("length",)),
        Param("width", 40.0, "bracket width (Y)", 5, 1000, ("width", "depth")),
        Param("height", 50.0, "vertical leg height (Z)", 5, 1000, ("height",)),
        Param("thickness", 5.0, "material thickness", 0.5, 100, ("thickness",)),
        Param("holes_per_leg", 2, "mounting holes in each leg", 0, 12, ("hole_count",), "count"),
        Param("hole_diameter", 5.0, "mounting hole diameter", 0.5, 100, ("hole_diameter",)),
        Param(
            "angle", 90.0, "angle of the upright leg from the base; below 90 it leans back", 30, 150, ("angle",), "deg"
        ),
    ),
    dims=("length", "width", "height"),
    features=("holes", "an angle"),
    # Upright, the extents are exact; leaning, the upright's length stays `height` and the extents follow.
    bbox=lambda p: [p["length"], p["width"], p["height"]] if p["angle"] == 90 else [None, p["width"], None],
    body=f"""\
# Horizontal leg along +X, upright leg along +Z, both `width` deep in Y; holes centred on each leg's free part.
# The upright turns about the back edge of the base (the Y axis): at 70 degrees its top leans back (-X).
hole_x = thickness + (length - thickness) / 2
hole_z = thickness + (height - thickness) / 2
hole_ys = [width * (i + 0.5) / holes_per_leg - width / 2 for i in range(holes_per_leg)]

base = Box(length, width, thickness, align=(Align.MIN, Align.CENTER, Align.MIN))
upright = Box(thickness, width, height, align=(Align.MIN, Align.CENTER, Align.MIN))
for y in hole_ys:
    base -= Pos(hole_x, y, 0) * Cylinder(hole_diameter / 2, thickness, {_FLOOR})
    upright -= Pos(0, y, hole_z) * Rot(0, 90, 0) * Cylinder(hole_diameter / 2, thickness, {_FLOOR})

result = base + Rot(0, angle - 90, 0) * upright
""",
)

SPUR_GEAR = Family(
    name="spur_gear",
    title="Spur gear",
    keywords=r"\b(?:spur gear|gear|cog|gearwheel|teeth)\b",
    params=(
        Param("teeth", 20, "number of teeth", 8, 200, ("teeth",), "count"),
        Param("module", 2.0, "module: pitch diameter / teeth", 0.3, 20, ("module",)),
        Param("thickness", 8.0, "face width (Z)", 1, 200, ("thickness", "height", "width")),
        Param("bore_diameter", 5.0, "shaft bore; 0 for none", 0, 500, ("bore", "hole_diameter", "inner_diameter")),
        Param("pressure_angle", 20.0, "involute pressure angle", 14.5, 25, ("angle",), "deg"),
    ),
    imports=("from math import acos, cos, pi, radians, sin, tan", ""),
    adjust=_gear_size,
    reads=("diameter",),
    features=("holes", "an angle"),
    # A tooth tip lies on +X, so the X extent is exactly the outside diameter.
    bbox=lambda p: [p["module"] * (p["teeth"] + 2), None, p["thickness"]],
    body=f'''\
pitch_radius = module * teeth / 2
base_radius = pitch_radius * cos(radians(pressure_angle))
tip_radius = pitch_radius + module
root_radius = pitch_radius - 1.25 * module
flank_start = max(root_radius, base_radius)


def involute(angle):
    return tan(angle) - angle


def half_tooth_angle(radius):
    """Angle between a tooth's centre line and its involute flank at `radius`."""
    pressure_at_radius = acos(base_radius / max(radius, base_radius))
    return pi / (2 * teeth) + involute(radians(pressure_angle)) - involute(pressure_at_radius)


flank_radii = [flank_start + (tip_radius - flank_start) * i / 6 for i in range(7)]
outline = []  # (radius, angle) around the gear, tooth by tooth
for k in range(teeth):
    centre = 2 * pi * k / teeth
    root = [(root_radius, half_tooth_angle(flank_start))] if root_radius < flank_start else []
    flank = root + [(r, half_tooth_angle(r)) for r in flank_radii]
    outline += [(r, centre - a) for r, a in flank] + [(tip_radius, centre)] + [(r, centre + a) for r, a in reversed(flank)]

profile = Polygon(*[(r * cos(a), r * sin(a)) for r, a in outline], align=None)
result = extrude(profile, thickness)
if bore_diameter > 0:
    result -= Cylinder(bore_diameter / 2, thickness, {_FLOOR})
''',
)

ENCLOSURE = Family(
    name="enclosure",
    title="Enclosure",
    keywords=r"\b(?:enclosure|housing|case|project box|hollow box|open[- ]top box|container)\b|\bbox\b.*\b(?:walls?|lids?)\b",
    params=(
        Param("length", 100.0, "outside length (X)", 5, 1000, ("length",)),
        Param("width", 60.0, "outside width (Y)", 5, 1000, ("width",)),
        Param("height", 40.0, "outside height (Z)", 2, 1000, ("height", "depth")),
        Param("wall", 2.0, "wall and floor thickness", 0.4, 50, ("wall", "thickness")),
        Param("lid", 0, "1 for a lid, printed beside the box, 0 for an open top", 0, 1, (), "count"),
    ),
    dims=("length", "width", "height"),
    toggles=(("lid", r"\blids?\b", r"\b(?:no|without|remove|drop|delete)\s+(?:the\s+|a\s+)?lids?\b|\bopen[- ]top\b"),),
    features=("a lid",),
    bbox=lambda p: [p["length"], p["width"] * (2 if p["lid"] else 1) + (LID_GAP if p["lid"] else 0), p["height"]],
    body=f"""\
# An open-top box: the outer block minus the cavity above the floor.
result = Box(length, width, height, {_FLOOR})
result -= Pos(0, 0, wall) * Box(length - 2 * wall, width - 2 * wall, height, {_FLOOR})
if lid:
    # A flat lid with a rim that fits inside the walls (0.3 mm clearance), lying rim-up beside the box.
    rim_length, rim_width = length - 2 * wall - 0.6, width - 2 * wall - 0.6
    cover = Box(length, width, wall, {_FLOOR})
    if rim_length > 2 * wall and rim_width > 2 * wall:
        rim = Box(rim_length, rim_width, 2 * wall, {_FLOOR}) - Box(rim_length - 2 * wall, rim_width - 2 * wall, 2 * wall, {_FLOOR})
        cover += Pos(0, 0, wall) * rim
    result += Pos(0, width + {LID_GAP:g}, 0) * cover
""",
)

KNOB = Family(
    name="knob",
    title="Knob",
    keywords=r"\b(?:knob|dial|handwheel|thumbwheel)\b",
    params=(
        Param("diameter", 30.0, "outer diameter", 5, 300, ("diameter",)),
        Param("height", 20.0, "height (Z)", 3, 200, ("height", "thickness")),
        Param("shaft_diameter", 6.0, "D-shaft hole diameter", 1, 100, ("bore", "hole_diameter", "inner_diameter")),
        Param(
            "shaft_depth",
            lambda p: round(p["height"] * 0.6, 1),
            "D-shaft hole depth from the bottom",
            1,
            200,
            ("depth",),
        ),
        Param("grooves", 12, "finger grooves around the rim", 0, 60, ("grooves",), "count"),
    ),
    features=("holes",),
    # Grooves sit between the X axis directions, so the X extent is the full diameter.
    bbox=lambda p: [p["diameter"], None, p["height"]],
    body=f"""\
groove_radius = max(0.8, 0.04 * diameter)
top_fillet = min(2.0, height / 4, diameter / 8)
hole_depth = min(shaft_depth, height - 1.0)  # never break through the top

knob = Cylinder(diameter / 2, height, {_FLOOR})
knob = fillet(knob.edges().group_by(Axis.Z)[-1], top_fillet)
for k in range(grooves):
    knob -= Rot(0, 0, 360 * (k + 0.5) / grooves) * Pos(diameter / 2, 0, 0) * Cylinder(groove_radius, height, {_FLOOR})

# D-shaped shaft hole from below: a round hole with one flat side.
shaft = Cylinder(shaft_diameter / 2, hole_depth, {_FLOOR})
shaft -= Pos(0.35 * shaft_diameter, 0, 0) * Box(shaft_diameter, shaft_diameter, hole_depth, align=(Align.MIN, Align.CENTER, Align.MIN))
result = knob - shaft
""",
)

TRAY = Family(
    name="tray",
    title="Tray",
    keywords=r"\b(?:tray|organi[sz]er|compartments?|dividers?)\b",
    params=(
        Param("length", 200.0, "outside length (X)", 10, 1000, ("length",)),
        Param("width", 120.0, "outside width (Y)", 10, 1000, ("width",)),
        Param("height", 30.0, "outside height (Z)", 3, 500, ("height", "depth")),
        Param("wall", 2.0, "wall, floor and divider thickness", 0.4, 20, ("wall", "thickness")),
        Param("compartments_x", 3, "compartments along the length", 1, 20, ("compartments",), "count"),
        Param("compartments_y", 1, "compartments across the width", 1, 20, (), "count"),
    ),
    dims=("length", "width", "height"),
    adjust=_tray_grid,
    reads=("dividers", "compartments_y"),
    bbox=lambda p: [p["length"], p["width"], p["height"]],
    body=f"""\
inner_length = length - 2 * wall
inner_width = width - 2 * wall

result = Box(length, width, height, {_FLOOR})
result -= Pos(0, 0, wall) * Box(inner_length, inner_width, height, {_FLOOR})
# Full-height dividers split the inside into equal compartments (ends overlap the walls).
for i in range(1, compartments_x):
    x = -inner_length / 2 + inner_length * i / compartments_x
    result += Pos(x, 0, 0) * Box(wall, inner_width + wall, height, {_FLOOR})
for j in range(1, compartments_y):
    y = -inner_width / 2 + inner_width * j / compartments_y
    result += Pos(0, y, 0) * Box(inner_length + wall, wall, height, {_FLOOR})
""",
)

VASE = Family(
    name="vase",
    title="Vase",
    keywords=r"\b(?:vase|planter|flower ?pot|pot|cup|jar)\b",
    params=(
        Param("height", 150.0, "height (Z)", 10, 1000, ("height",)),
        Param("base_diameter", 60.0, "diameter at the base", 10, 800, ("base",)),
        Param("belly_diameter", 90.0, "widest diameter, at 40% of the height", 10, 800, ("diameter",)),
        Param("top_diameter", 50.0, "diameter of the opening", 10, 800, ("top",)),
        Param("wall", 2.0, "wall thickness", 0.8, 20, ("wall", "thickness")),
    ),
    # The lofted skin is smooth, so its widest point can pass slightly outside belly_diameter.
    bbox=lambda p: [None, None, p["height"]],
    body="""\
floor = max(wall, 2.0)
belly_z = 0.4 * height

outside = loft([
    Circle(base_diameter / 2),
    Pos(0, 0, belly_z) * Circle(belly_diameter / 2),
    Pos(0, 0, height) * Circle(top_diameter / 2),
])
inside = loft([
    Pos(0, 0, floor) * Circle(base_diameter / 2 - wall),
    Pos(0, 0, belly_z) * Circle(belly_diameter / 2 - wall),
    Pos(0, 0, height) * Circle(top_diameter / 2 - wall),
])
result = outside - inside
""",
)

SPRING = Family(
    name="spring",
    title="Helical spring",
    keywords=r"\b(?:spring|helix|helical|coil)\b",
    params=(
        Param("outer_diameter", 20.0, "outside diameter of the coils", 2, 500, ("diameter",)),
        Param("wire_diameter", 2.0, "wire diameter", 0.2, 50, ("wire", "thickness")),
        Param("pitch", 5.0, "rise per turn", 0.5, 200, ("pitch",)),
        Param("turns", 6, "number of turns", 1, 100, ("turns",), "count"),
    ),
    adjust=_spring_length,
    reads=("length", "height"),
    # The wire spans exactly the outside diameter; its ends are cut square to the helix, so Z is approximate.
    bbox=lambda p: [p["outer_diameter"], p["outer_diameter"], None],
    body="""\
coil_radius = (outer_diameter - wire_diameter) / 2  # centre line of the wire
coil_pitch = max(pitch, 1.2 * wire_diameter)  # neighbouring coils must not touch

path = Helix(pitch=coil_pitch, height=coil_pitch * turns, radius=coil_radius)
profile = Plane(origin=path @ 0, z_dir=path % 0) * Circle(wire_diameter / 2)
result = sweep(profile, path=path, is_frenet=True)
""",
)

# Order matters: the first family whose keywords match a request wins.
FAMILIES: tuple[Family, ...] = (SPRING, SPUR_GEAR, FLANGE, L_BRACKET, KNOB, TRAY, VASE, ENCLOSURE, PLATE, CYLINDER)


def render_code(spec: PartSpec) -> str:
    """The complete build123d program for a spec: header, parameter block, template body."""
    lines = [f"{HEADER}{spec.family.name}", *spec.family.imports, "from build123d import *", ""]
    for param in spec.family.params:
        value = spec.params[param.name]
        literal = str(int(value)) if param.count else repr(float(value))
        lines.append(f"{param.name} = {literal}  # {param.unit}, {param.doc} [{param.lo:g}..{param.hi:g}]")
    return "\n".join(lines) + "\n\n" + spec.family.body


def spec_from_code(code: str) -> PartSpec | None:
    """Read a program this module generated (possibly hand-edited) back into a spec: its header names the
    family, and its parameters are read as the sliders read them (`extract_parameters`). None for a program
    no template wrote, or one that is not valid Python."""
    header = re.search(rf"^{re.escape(HEADER)}(\w+)", code, re.MULTILINE)
    family = next((f for f in FAMILIES if header and f.name == header[1]), None)
    if family is None:
        return None
    try:
        parameters = extract_parameters(code)
    except ParameterError:
        return None
    names = {p.name for p in family.params}
    return complete_spec(family, {p.name: float(p.value) for p in parameters if p.name in names})


def _without_parameters(code: str, spec: PartSpec) -> list[str]:
    """The program's non-blank lines except the family's parameter assignments."""
    names = {p.name for p in spec.family.params}
    try:
        parameters = [p for p in extract_parameters(code) if p.name in names]
    except ParameterError:
        parameters = []
    skipped = {n for p in parameters for n in range(p.line, p.end[0] + 1)}
    return [line.rstrip() for n, line in enumerate(code.splitlines(), start=1) if line.strip() and n not in skipped]


def hand_edited(code: str, spec: PartSpec) -> bool:
    """True when a template program differs from what its template makes, beyond parameter values (which
    sliders change): someone edited it by hand (or an older template wrote it)."""
    return _without_parameters(code, spec) != _without_parameters(render_code(spec), spec)
