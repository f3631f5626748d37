"""Tools the conversation model may call; the offline provider speaks the same contract."""

from __future__ import annotations

from chat3d.domain.requirements import REQUIREMENT_SCHEMA
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
                "type": "array", "items": REQUIREMENT_SCHEMA,
                "description": "Each checkable thing the user asked for (size, counts, diameters, thickness, through "
                               "or blind, symmetric, one solid), with source 'stated' for values the user gave, "
                               "'assumed' for values you chose, 'not_modelled' for anything asked for that the "
                               "part will not have. They are checked on the built solid.",
            },
        },
        "required": ["brief", "expected_bbox_mm", "units"],
    },
)
