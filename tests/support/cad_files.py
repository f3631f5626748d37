"""Real STEP and STL files for import tests, exported by build123d (the same library the render service runs)."""

from __future__ import annotations

import functools
import os
import struct
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


# --- reading exported files back (issue 27's per-part files) ----------------------------------------------------

STL_RECORD = [("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attr", "<u2")]


def stl_extent_and_volume(data: bytes) -> tuple[list[float], float]:
    """(extent, volume) of a binary STL's triangles."""
    import numpy as np

    (n,) = struct.unpack_from("<I", data, 80)
    tris = np.frombuffer(data, dtype=np.dtype(STL_RECORD), offset=84, count=n)["corners"].astype(np.float64)
    corners = tris.reshape(-1, 3)
    volume = float(np.einsum("ij,ij->i", tris[:, 0], np.cross(tris[:, 1], tris[:, 2])).sum() / 6)
    return list(corners.max(0) - corners.min(0)), abs(volume)


def step_products(data: bytes, tmp_path: Path) -> list[tuple[str, float, list[float]]]:
    """(name, volume, size) of every solid product in a STEP file, read with OCCT's XCAF reader."""
    import build123d as bd
    from OCP.collections import Sequence_TDF_Label
    from OCP.IFSelect import IFSelect_ReturnStatus
    from OCP.STEPCAFControl import STEPCAFControl_Reader
    from OCP.TCollection import TCollection_ExtendedString
    from OCP.TDataStd import TDataStd_Name
    from OCP.TDF import TDF_Label
    from OCP.TDocStd import TDocStd_Document
    from OCP.XCAFApp import XCAFApp_Application
    from OCP.XCAFDoc import XCAFDoc_DocumentTool

    path = tmp_path / "read.step"
    path.write_bytes(data)
    doc = TDocStd_Document(TCollection_ExtendedString("XmlOcaf"))
    XCAFApp_Application.GetApplication_s().NewDocument(TCollection_ExtendedString("MDTV-XCAF"), doc)
    reader = STEPCAFControl_Reader()
    reader.SetNameMode(True)
    assert reader.ReadFile(str(path)) == IFSelect_ReturnStatus.IFSelect_RetDone
    reader.Transfer(doc)
    tool = XCAFDoc_DocumentTool.ShapeTool_s(doc.Main())
    found = []

    def walk(label) -> None:
        if tool.IsReference_s(label):
            referred = TDF_Label()
            tool.GetReferredShape_s(label, referred)
            label = referred
        kids = Sequence_TDF_Label()
        tool.GetComponents_s(label, kids)
        if kids.Length():
            for i in range(1, kids.Length() + 1):
                walk(kids.Value(i))
            return
        name = TDataStd_Name()
        label.FindAttribute(TDataStd_Name.GetID_s(), name)
        shape = bd.Shape.cast(tool.GetShape_s(label))
        size = shape.bounding_box().size
        found.append((name.Get().ToExtString(), float(shape.volume), [size.X, size.Y, size.Z]))

    free = Sequence_TDF_Label()
    tool.GetFreeShapes(free)
    for i in range(1, free.Length() + 1):
        walk(free.Value(i))
    return found


def mf_objects(data: bytes, tmp_path: Path) -> list[tuple[str, list[float]]]:
    """(name, extent) of every mesh object in a 3MF, read with lib3mf."""
    import numpy as np
    from lib3mf import Lib3MF

    path = tmp_path / "read.3mf"
    path.write_bytes(data)
    model = Lib3MF.Wrapper(os.path.join(os.path.dirname(Lib3MF.__file__), "lib3mf")).CreateModel()
    model.QueryReader("3mf").ReadFromFile(str(path))
    out = []
    it = model.GetMeshObjects()
    while it.MoveNext():
        mesh = it.GetCurrentMeshObject()
        pts = np.array([v.Coordinates[:] for v in mesh.GetVertices()], dtype=np.float64)
        out.append((mesh.GetName(), list(pts.max(0) - pts.min(0))))
    return out
