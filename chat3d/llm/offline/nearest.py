"""What the offline provider says about a request outside its templates: what it can make, the nearest
template to what was asked (with a request to copy), that pictures need a vision model, and where models
are set up. One answer per kind of request instead of one canned paragraph for everything."""

from __future__ import annotations

import re

from chat3d.llm.offline.spec import normalize

CAN_MAKE = (
    "plates and blocks (with holes, rounded corners or filleted edges), cylinders and tubes, flanges, "
    "L-brackets (upright or angled), spur gears, enclosures (with or without a lid), knobs, trays with "
    "dividers, vases and cups, and helical springs"
)
SETUP = "[Set up a model](/admin) (an API key or a local Ollama model) for free-form parts"

# (what the request names, what the nearest template makes of it, a request for it to copy)
NEAREST: tuple[tuple[str, str, str], ...] = (
    (
        r"\b(?:phone|tablet|book|laptop|monitor)?\s*stand\b|\bholder\b|\beasel\b|\bdock\b",
        "an L-bracket leaning back, as a simple stand",
        "an L-bracket 80 x 70 x 100 mm, 4 mm thick, angled back 70 degrees",
    ),
    (
        r"\b(?:mug|cup|glass|tumbler|bottle|bowl|jar|beaker)\b",
        "a cup (the vase template, without a handle)",
        "a cup 80 mm diameter, 95 mm tall, 80 mm top, 70 mm base, 3 mm wall",
    ),
    (
        r"\bhook\b|\bhanger\b|\bshelf\b|\bcorner brace\b|\bmount\b",
        "an L-bracket with mounting holes",
        "an L-bracket 60 x 30 x 50 mm, 4 mm thick, with 5 mm holes",
    ),
    (
        r"\b(?:wheel|pulley|roller|caster)\b",
        "a cylinder with a bore (or a spur gear for a toothed wheel)",
        "a tube 60 mm outer diameter, 8 mm bore, 20 mm long",
    ),
    (r"\b(?:cap|plug|stopper|coaster|foot|feet|bumper)\b", "a short cylinder", "a cylinder 40 mm diameter, 5 mm tall"),
    (
        r"\b(?:lid|cover|case|box|storage|bin|drawer)\b",
        "an enclosure with a lid",
        "an enclosure 100 x 60 x 40 mm with 2 mm walls and a lid",
    ),
    (
        r"\b(?:nut|bolt|screw|thread)\w*",
        "a washer or spacer (threads are not modelled)",
        "a washer 16 mm outer diameter, 8.4 mm inner diameter, 1.6 mm thick",
    ),
    (
        r"\b(?:sign|tag|label|plaque|keychain|key ?ring|badge|coupon)\b",
        "a plate (text is not modelled)",
        "a 60 x 30 x 3 mm plate with one 5 mm hole",
    ),
)
_IMAGE = re.compile(r"\[The user attached \d+ image|\b(?:image|picture|photo|sketch|drawing|screenshot)s?\b", re.I)


def outside_templates(request: str, *, question: bool = False) -> str:
    """The answer to a request no template takes, with the nearest template offered."""
    text = normalize(request)
    parts: list[str] = []
    if _IMAGE.search(request):
        parts.append(
            "I can't see pictures: reading a sketch or photo needs a vision model. Describe the part "
            "in words with its main dimensions, or "
            + SETUP.replace("free-form parts", "pictures and free-form parts")
            + "."
        )
    if question and not parts:
        parts.append(
            f"I'm the offline template assistant: I make {CAN_MAKE}, from dimensions in mm or inches, "
            'and change them on request ("make it 10 mm thicker", "add 2 holes").'
        )
    else:
        parts.append(f"The offline templates make {CAN_MAKE}.")
    nearest = next(((what, example) for pattern, what, example in NEAREST if re.search(pattern, text)), None)
    if nearest:
        parts.append(f'The nearest I can make is {nearest[0]}: try "{nearest[1]}".')
    else:
        parts.append(
            'Which of these is closest, and what are its main dimensions? For example "an 80 x 50 x 5 mm '
            'plate with four 4 mm holes".'
        )
    if not _IMAGE.search(request):
        parts.append(SETUP + ".")
    return " ".join(parts)
