"""Tools the models may call; the offline provider speaks the same contract (it makes no review)."""

from __future__ import annotations

from chat3d.domain.requirements import REQUIREMENT_SCHEMA
from chat3d.domain.review import VERDICT_SCHEMA
from chat3d.llm.base import ToolSpec

CREATE_3D_MODEL = ToolSpec(
    name="create_3d_model",
    description=(
        "Generate (or regenerate) the 3D part. Call it once the request has the essentials: what the part is "
        "and its main dimensions. The brief must be complete and self-contained, restating every dimension, "
        "count and feature of the whole part (not just the change). List the user's requirements too: they are "
        "measured on the result."
    ),
    parameters={
        "type": "object",
        "properties": {
            "brief": {"type": "string", "description": "Precise description of the whole part with all dimensions."},
            "expected_bbox_mm": {
                "type": ["array", "null"],
                "items": {"type": "number"},
                "description": "Expected bounding box [x, y, z] in mm, or null when it cannot be known.",
            },
            "units": {"type": "string", "enum": ["mm"]},
            "requirements": {
                "type": "array",
                "items": REQUIREMENT_SCHEMA,
                "description": "Each checkable thing the user asked for (size, counts, diameters, thickness, through "
                "or blind, symmetric, one solid), with source 'stated' for values the user gave, "
                "'assumed' for values you chose, 'not_modelled' for anything asked for that the "
                "part will not have. They are checked on the built solid.",
            },
        },
        "required": ["brief", "expected_bbox_mm", "units"],
    },
)

# Issue 23 item 2: the vision model's verdict on the rendered views (chat3d/domain/review.py).
REPORT_REVIEW = ToolSpec(
    name="report_review",
    description=(
        "Report whether the pictured part is what the brief asks for: verdict 'pass', or 'problems' "
        "with each visible difference named precisely enough to fix."
    ),
    parameters=VERDICT_SCHEMA,
)
