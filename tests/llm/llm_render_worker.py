"""Runs generated build123d programs in worker processes and reports what they built.

Lives in its own module so a spawned process pool can import it; build123d is imported once
per worker.
"""

from __future__ import annotations

import traceback


def warm_up() -> None:
    import build123d  # noqa: F401


def measure(code: str) -> dict:
    """Exec `code`, then describe `result`: validity, volume, bounding box, cylindrical-face radii."""
    import math

    from build123d import CenterOf, GeomType, Shape

    namespace: dict = {"__name__": "__chat3d_model__"}
    try:
        exec(compile(code, "<model>", "exec"), namespace)
        result = namespace["result"]
        if not isinstance(result, Shape):
            return {"ok": False, "error": f"result is {type(result).__name__}, not a Shape"}
        box = result.bounding_box()
        return {
            "ok": True,
            "valid": result.is_valid,
            "volume": result.volume,
            "solids": len(result.solids()),
            "size": [box.size.X, box.size.Y, box.size.Z],
            "min": [box.min.X, box.min.Y, box.min.Z],
            # (radius, distance of the axis from Z) of each whole cylindrical face: where a hole sits
            "cylinders": sorted(
                (round(face.radius, 4), round(math.hypot(face.center(CenterOf.BOUNDING_BOX).X, face.center(CenterOf.BOUNDING_BOX).Y), 3))
                for face in result.faces() if face.geom_type == GeomType.CYLINDER and face.radius is not None
            ),
            "cylinder_radii": sorted(
                round(face.radius, 4) for face in result.faces()
                if face.geom_type == GeomType.CYLINDER and face.radius is not None
            ),
        }
    except Exception:
        return {"ok": False, "error": traceback.format_exc(limit=3)}
