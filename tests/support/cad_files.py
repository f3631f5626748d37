"""Real STEP and STL files for import tests, exported by build123d (the same library the render service runs)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

# A 60 × 30 × 12 mm block with a 10 mm hole: volume 60·30·12 − π·5²·12.
BLOCK_SIZE = (60.0, 30.0, 12.0)
BLOCK_VOLUME = 60 * 30 * 12 - 3.141592653589793 * 25 * 12


@functools.lru_cache
def block_files() -> dict[str, bytes]:
    """{"step": bytes, "stl": bytes (binary), "stl_ascii": bytes} of the block."""
    import build123d as bd

    part = bd.Box(*BLOCK_SIZE) - bd.Pos(15, 0, 0) * bd.Cylinder(5, 20)
    with tempfile.TemporaryDirectory() as d:
        step, stl, ascii_stl = Path(d, "b.step"), Path(d, "b.stl"), Path(d, "a.stl")
        bd.export_step(part, str(step))
        bd.export_stl(part, str(stl), tolerance=0.05)
        bd.export_stl(part, str(ascii_stl), tolerance=0.05, ascii_format=True)
        return {"step": step.read_bytes(), "stl": stl.read_bytes(), "stl_ascii": ascii_stl.read_bytes()}


CORRUPT_STEP = b"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('broken'),'2;1');\nthis is not a STEP body\n"
