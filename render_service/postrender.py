"""The trusted post-render step: everything the app keeps is made here, from the job's geometry only.

The job's worker runs the user's program and leaves ``model.brep`` (OCCT binary BRep of the result) in
its folder; it can also leave anything else, and it may have replaced any function in its own process.
So nothing it wrote is passed on: this step runs in a fresh process that never ran user code, parses the
BRep with OCCT (drops any triangulation it carries), recomputes size, volume and solid count, tessellates
once and writes STL, GLB, 3MF, STEP and a PNG thumbnail with our own code into ``out_dir``. What crosses
over from the job is geometry, plus one thing: the solids' labels (issue 27's part names), which reach the
STEP/3MF object names and the parts table only as short plain text (render_service/parts.py); no other
program byte reaches an output file, a file name or a metric.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import io
import math
import os
import time
from pathlib import Path

import numpy as np
from lib3mf import Lib3MF
from OCP.BinTools import BinTools

# Issue 23's measurements (measure_features); imported up front: a sandboxed post process cannot import later.
from OCP.BRepAdaptor import BRepAdaptor_Surface
from OCP.BRepTools import BRepTools
from OCP.GeomAbs import GeomAbs_Cylinder
from OCP.StlAPI import StlAPI_Writer
from OCP.TopoDS import TopoDS_Shape

# Issue 23's review views (render_views) draw captions: Pillow's drawing and font modules, up front as well.
from PIL import Image, ImageDraw, ImageFont

from . import parts, topology  # imported here: a sandboxed post process cannot import later
from .lazy_sklearn import deferred_sklearn
from .protocol import FILENAMES
from .untrusted_files import read_untrusted

with deferred_sklearn():
    import build123d as bd

BREP_NAME = "model.brep"
MODEL_FORMATS = ("stl", "step", "3mf", "glb")  # model files the post step writes; "png" is the thumbnail
ANGULAR_DEFLECTION = 0.25  # rad; ~14 deg, smooth enough for a browser viewer
THUMB_PX = 128  # the PNG thumbnail is THUMB_PX x THUMB_PX, RGBA, transparent background (shown at 36-64 px)
STL_RECORD = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attr", "<u2")])  # binary STL
MERGE_PER_MM = 1e5  # 3MF corners closer than 10 nm are one vertex


class PostError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


def write_brep(shape, path: str) -> None:
    """Worker side: the result shape as binary BRep, geometry only (no triangulation, no names)."""
    from OCP.BinTools import BinTools_FormatVersion

    wrapped = shape.wrapped if hasattr(shape, "wrapped") else shape
    if not BinTools.Write_s(wrapped, path, False, False, BinTools_FormatVersion.BinTools_FormatVersion_CURRENT):
        raise OSError(errno.EIO, "writing the BRep failed")


def read_brep(src_dir: Path, cap: int) -> bytes:
    """The job's model.brep: no symlink, a regular file, at most ``cap`` bytes (the job wrote it)."""
    dir_fd = os.open(src_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        data = read_untrusted(dir_fd, BREP_NAME, cap)
    except ValueError as exc:
        link = "symlink" in str(exc)
        raise PostError(
            "crashed",
            "The job's model file is a link, not a file." if link else "The job's model file is not a regular file.",
        ) from None
    except OverflowError:
        raise PostError("output_too_large", f"The model is larger than the {cap // (1024 * 1024)} MB limit.") from None
    finally:
        os.close(dir_fd)
    if data is None:
        raise PostError("crashed", "The program ended without leaving a model.")
    return data


def parse_brep(data: bytes):
    """Bytes -> build123d shape; only OCCT's parser sees the bytes. Cached meshes are dropped."""
    wrapped = TopoDS_Shape()
    try:
        BinTools.Read_s(wrapped, io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - any parser failure is a damaged model
        raise PostError("geometry", f"The model could not be read back: {type(exc).__name__}.") from None
    if wrapped.IsNull():
        raise PostError("empty", "The resulting shape is empty.")
    BRepTools.Clean_s(wrapped, True)
    try:
        return bd.Shape.cast(wrapped)
    except Exception as exc:  # noqa: BLE001
        raise PostError("geometry", f"The model could not be read back: {type(exc).__name__}.") from None


def measure(shape) -> dict:
    """Size, volume, solid count and validity, computed here from the parsed geometry."""
    solids = shape.solids()
    if not solids:
        if shape.faces() or shape.edges():
            raise PostError("not_a_shape", "`result` has no solids: it is a 2D or wire shape, not a 3D part.")
        raise PostError("empty", "The resulting shape is empty: it has no solids and zero volume.")
    volume = float(shape.volume)
    if not (math.isfinite(volume) and volume > 1e-9):
        raise PostError("empty", "The resulting shape is empty: its volume is zero.")
    bb = shape.bounding_box()
    mn, mx = bb.min, bb.max
    size = [bb.size.X, bb.size.Y, bb.size.Z]
    if not all(math.isfinite(v) for v in (*size, mn.X, mn.Y, mn.Z)):
        raise PostError("geometry", "The model's bounding box is not finite.")
    return {
        "size": [round(v, 4) for v in size],
        "bbox": {
            "min": [round(mn.X, 4), round(mn.Y, 4), round(mn.Z, 4)],
            "max": [round(mx.X, 4), round(mx.Y, 4), round(mx.Z, 4)],
        },
        "volume": round(volume, 4),
        "solids": len(solids),
        "valid": bool(shape.is_valid),
    }


def linear_deflection(size: list[float]) -> float:
    """Tessellation tolerance scaled to the part: fine for small parts, bounded for big ones."""
    diag = math.sqrt(sum(v * v for v in size))
    return min(0.5, max(0.01, diag * 0.0005))


def _solid_triangles(solid, scratch: str, cap: int = 1 << 62) -> np.ndarray:
    """One solid's existing triangulation as an (n, 3, 3) float32 array of corners, via OCCT's STL writer."""
    writer = StlAPI_Writer()
    writer.ASCIIMode = False
    if not writer.Write(solid.wrapped, scratch):
        if os.path.isfile(scratch) and os.path.getsize(scratch) >= cap:  # cut off by RLIMIT_FSIZE
            raise PostError("output_too_large", f"The mesh is larger than the {cap // (1024 * 1024)} MB limit.")
        raise PostError("geometry", "Tessellating the model failed.")
    with open(scratch, "rb") as fh:
        data = fh.read()
    os.unlink(scratch)
    return np.frombuffer(data, dtype=STL_RECORD, offset=84)["corners"]


@functools.cache
def lib3mf_wrapper() -> Lib3MF.Wrapper:
    """One lib3mf wrapper per process: making one loads its function table (up to 0.17 s)."""
    return Lib3MF.Wrapper(os.path.join(os.path.dirname(Lib3MF.__file__), "lib3mf"))


def export_3mf(per_solid: list[np.ndarray], path: str, names: list[str] | None = None) -> bool:
    """A 3MF with one mesh object per solid, named after its part (``names``, see parts.py), from the mesh made once.

    numpy merges the corners neighbouring triangles share (OCCT may write one seam node as 0 and
    -3.7e-16, so they are merged on a 10 nm grid), and lib3mf (the 3MF Consortium's library) writes
    the package. build123d's Mesher would mesh a copy again and walk every vertex in Python (1.5-2 s
    on the corpus's heavy parts).
    """
    model = lib3mf_wrapper().CreateModel()
    model.SetUnit(Lib3MF.ModelUnit.MilliMeter)
    for i, tris in enumerate(per_solid, 1):
        corners = tris.reshape(-1, 3)
        grid = np.round(corners.astype(np.float64) * MERGE_PER_MM).astype(np.int64)
        keys = np.ascontiguousarray(grid).view(np.dtype((np.void, 24))).ravel()
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        vertices = np.ascontiguousarray(corners[first], dtype=np.float32)
        triangles = inverse.reshape(-1, 3).astype(np.uint32)
        keep = (
            (triangles[:, 0] != triangles[:, 1])
            & (triangles[:, 1] != triangles[:, 2])
            & (triangles[:, 0] != triangles[:, 2])
        )  # slivers whose corners rounded together
        triangles = np.ascontiguousarray(triangles[keep])
        if len(vertices) < 3 or not len(triangles):
            continue
        mesh = model.AddMeshObject()
        mesh.SetName(names[i - 1] if names and i <= len(names) else f"Part {i}")
        # The same C call as MeshObject.SetGeometry, on our arrays: that wrapper first copies every
        # vertex into a new ctypes object (0.2 s for 55,000 triangles). lib3mf is pinned for this.
        lib = mesh._wrapper
        lib.checkError(
            mesh,
            lib.lib.lib3mf_meshobject_setgeometry(
                mesh._handle,
                ctypes.c_uint64(len(vertices)),
                (Lib3MF.Position * len(vertices)).from_buffer(vertices),
                ctypes.c_uint64(len(triangles)),
                (Lib3MF.Triangle * len(triangles)).from_buffer(triangles),
            ),
        )
        model.AddBuildItem(mesh, lib3mf_wrapper().GetIdentityTransform())
    if not model.GetMeshObjects().Count():
        return False
    model.QueryWriter("3mf").WriteToFile(path)
    return True


def _zbuffer(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, colours: np.ndarray, side: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fill triangles (pixel-space corners x, y; depth z, larger is nearer) into a side x side RGBA image;
    returns it with the depth buffer (-inf where empty).

    Vectorised scanline: each triangle's rows are cut against its three edges to a span, the spans'
    pixel centres are the candidates (about as many as the pixels covered), and per pixel the nearest
    wins. Triangles go in chunks so memory stays bounded whatever the mesh.
    """
    zbuf = np.full(side * side, -np.inf)
    rgba = np.zeros((side * side, 4), np.uint8)
    d = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    usable = np.flatnonzero(np.abs(d) > 1e-12)
    x, y, z, colours, d = x[usable], y[usable], z[usable], colours[usable], d[usable]
    # Depth is linear in screen space: z = a*x + b*y + c per triangle.
    a = ((z[:, 1] - z[:, 0]) * (y[:, 2] - y[:, 0]) - (z[:, 2] - z[:, 0]) * (y[:, 1] - y[:, 0])) / d
    b = ((x[:, 1] - x[:, 0]) * (z[:, 2] - z[:, 0]) - (x[:, 2] - x[:, 0]) * (z[:, 1] - z[:, 0])) / d
    c = z[:, 0] - a * x[:, 0] - b * y[:, 0]
    r0 = np.clip(np.ceil(y.min(1) - 0.5), 0, side).astype(np.int64)  # rows whose centre is inside
    r1 = np.clip(np.floor(y.max(1) - 0.5), -1, side - 1).astype(np.int64)
    rows = np.maximum(r1 - r0 + 1, 0)
    cum = np.cumsum(rows)
    start, budget = 0, 1 << 18
    while start < len(rows):
        base = cum[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(cum, base + budget, side="right")))
        n = rows[start:stop]
        tri = np.repeat(np.arange(start, stop), n)
        start = stop
        if not len(tri):
            continue
        cy = r0[tri] + (np.arange(len(tri)) - np.repeat(np.cumsum(n) - n, n)) + 0.5
        lo = np.full(len(tri), np.inf)
        hi = np.full(len(tri), -np.inf)
        for i, j in ((0, 1), (1, 2), (2, 0)):
            ya, yb, xa, xb = y[tri, i], y[tri, j], x[tri, i], x[tri, j]
            cross = ((ya - cy) * (yb - cy) <= 0) & (ya != yb)
            with np.errstate(divide="ignore", invalid="ignore"):
                xi = xa + (cy - ya) * (xb - xa) / (yb - ya)
            lo = np.where(cross, np.minimum(lo, xi), lo)
            hi = np.where(cross, np.maximum(hi, xi), hi)
        c0 = np.clip(np.ceil(lo - 0.5), 0, side).astype(np.int64)
        c1 = np.clip(np.floor(hi - 0.5), -1, side - 1).astype(np.int64)
        m = np.maximum(c1 - c0 + 1, 0)
        if not m.sum():
            continue
        span = np.repeat(np.arange(len(tri)), m)
        col = c0[span] + (np.arange(len(span)) - np.repeat(np.cumsum(m) - m, m))
        row = (cy[span] - 0.5).astype(np.int64)
        t = tri[span]
        depth = a[t] * (col + 0.5) + b[t] * cy[span] + c[t]
        pid = row * side + col
        np.maximum.at(zbuf, pid, depth)  # per pixel, the nearest depth so far
        win = depth >= zbuf[pid]
        rgba[pid[win], :3] = colours[t[win]]
        rgba[pid[win], 3] = 255
    return rgba.reshape(side, side, 4), zbuf.reshape(side, side)


def _shade_view(
    tris: np.ndarray,
    view,
    up_hint,
    px: int,
    *,
    fit_mm: float | None = None,
    centre: np.ndarray | None = None,
    depth_cue: bool = False,
    outline: bool = False,
) -> np.ndarray:
    """One flat-shaded orthographic view of the mesh as a px x px RGBA array (transparent background).

    ``view`` points towards the camera, ``up_hint`` is the world direction drawn upwards. Back faces
    culled, a z-buffer at twice the size, then 2x2 averaged (anti-aliasing). By default the view's own
    extent fills the picture; ``fit_mm``/``centre`` (a world point drawn in the middle) give several views
    one scale. ``depth_cue`` darkens farther faces (a blind hole's floor differs from the top around it) and
    ``outline`` draws depth jumps (silhouettes, steps) dark: both for the review views, not the thumbnail.
    """
    tris = tris.astype(np.float64).reshape(-1, 3, 3)
    view = np.asarray(view, np.float64) / np.linalg.norm(view)
    extent = tris @ view  # the whole part's depth range (back faces too), for the depth cue
    right = np.cross(-view, up_hint)
    right /= np.linalg.norm(right)
    up = np.cross(right, -view)
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    keep = ((normals @ view) > 0) & (lengths > 0) & np.isfinite(lengths)
    tris, normals = tris[keep], normals[keep] / lengths[keep, None]
    side = 2 * px
    depth_buf = None
    if len(tris):
        sx, sy, depth = tris @ right, tris @ up, tris @ view
        margin = 0.06 * side
        if centre is None:
            span_x, span_y = sx.max() - sx.min(), sy.max() - sy.min()
            cx, cy = sx.min() + span_x / 2, sy.min() + span_y / 2
        else:
            cx, cy = float(centre @ right), float(centre @ up)
            span_x = span_y = 0.0
        k = (side - 2 * margin) / max(fit_mm or max(span_x, span_y), 1e-9)
        x = (sx - cx) * k + side / 2
        y = side / 2 - (sy - cy) * k
        light = np.array([0.35, -0.55, 0.76])
        light /= np.linalg.norm(light)
        shade = 0.35 + 0.65 * np.clip(normals @ light, 0.0, 1.0)
        colours = np.clip(shade[:, None] * np.array([120.0, 150.0, 190.0]) + 40, 0, 255).astype(np.uint8)
        big, depth_buf = _zbuffer(x, y, depth * k, colours, side)
        near, far = extent.max() * k, extent.min() * k
    else:
        big = np.zeros((side, side, 4), np.uint8)
    if depth_cue and depth_buf is not None:  # per pixel: 70 % brightness at the far end of the part, 100 % at the near
        cue = (179 + 77 * np.clip((depth_buf - far) / max(near - far, 1e-9), 0, 1)).astype(np.uint16)
        big[..., :3] = (big[..., :3] * cue[..., None]) >> 8
    if outline and depth_buf is not None:
        # A pixel whose neighbour is much nearer or farther (or empty: -inf) sits on an edge seen from here.
        z = depth_buf.astype(np.float32)
        step = 2.0  # in big pixels of depth: a step of about one pixel's width
        jump = np.zeros(z.shape, bool)
        with np.errstate(invalid="ignore"):  # -inf next to -inf: no edge
            jump[:, 1:] = np.abs(np.diff(z, axis=1)) > step
            jump[1:, :] |= np.abs(np.diff(z, axis=0)) > step
        big[jump] = (40, 48, 60, 255)
    # 2x2 average. A big pixel is either empty (all zero) or opaque, so the colour of a small pixel is the
    # mean of its covered big pixels and its alpha their share: anti-aliased edges over a transparent page.
    rgb = big[..., :3].astype(np.uint16)
    covered = (big[..., 3] > 0).astype(np.uint16)
    rgb = rgb[0::2, 0::2] + rgb[1::2, 0::2] + rgb[0::2, 1::2] + rgb[1::2, 1::2]
    count = covered[0::2, 0::2] + covered[1::2, 0::2] + covered[0::2, 1::2] + covered[1::2, 1::2]
    out = np.empty((px, px, 4), np.uint8)
    out[..., :3] = rgb // np.maximum(count, 1)[..., None]
    out[..., 3] = (count * 255 + 2) // 4
    return out


ISO_VIEW = (1.0, -1.0, 1.0)  # towards the camera: from the front right, above


def render_png(triangles: np.ndarray, path: str, px: int = THUMB_PX) -> None:
    """Isometric flat-shaded thumbnail (the view the old SVG drawing had), drawn on the CPU with numpy;
    Pillow encodes the PNG. Background transparent, so it sits on light and dark pages alike."""
    Image.fromarray(_shade_view(triangles, ISO_VIEW, (0.0, 0.0, 1.0), px), "RGBA").save(path, format="PNG")


# The review views (issue 23 item 2): a third-angle sheet, top above front, right beside front, and an iso view.
# (name, towards the camera, drawn upwards, (row, column)); front/top/right share one scale and are aligned.
VIEWS = (
    ("top", (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (0, 0)),
    ("iso", ISO_VIEW, (0.0, 0.0, 1.0), (0, 1)),
    ("front", (0.0, -1.0, 0.0), (0.0, 0.0, 1.0), (1, 0)),
    ("right", (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (1, 1)),
)
VIEW_CAPTIONS = {"top": "TOP (from +Z)", "iso": "ISO", "front": "FRONT (from -Y)", "right": "RIGHT (from +X)"}
VIEW_PX = 320  # each panel is VIEW_PX square: the sheet is 2 x 2 panels on an opaque light background
VIEW_BACKGROUND = (246, 247, 249)


@functools.cache
def _caption_font():
    return ImageFont.load_default()  # Pillow's built-in font: no file to read (the post process cannot open one)


def render_views(triangles: np.ndarray, path: str, px: int = VIEW_PX) -> None:
    """The review sheet: top, front and right at one scale (aligned as on a drawing), iso beside, each
    captioned; depth cues and outlines make steps, blind holes and silhouettes visible. Opaque: a vision
    model reads no transparency."""
    tris = triangles.astype(np.float64).reshape(-1, 3, 3)
    if len(tris):
        lo, hi = tris.reshape(-1, 3).min(axis=0), tris.reshape(-1, 3).max(axis=0)
        centre, fit = (lo + hi) / 2, float(max(hi - lo))
    else:
        centre, fit = np.zeros(3), 1.0
    sheet = Image.new("RGB", (2 * px, 2 * px), VIEW_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for name, view, up, (row, col) in VIEWS:
        ortho = name != "iso"
        panel = _shade_view(
            tris,
            view,
            up,
            px,
            fit_mm=fit if ortho else None,
            centre=centre if ortho else None,
            depth_cue=True,
            outline=True,
        )
        sheet.paste(Image.fromarray(panel, "RGBA"), (col * px, row * px), Image.fromarray(panel[..., 3], "L"))
        draw.text((col * px + 6, row * px + 4), VIEW_CAPTIONS[name], fill=(70, 76, 88), font=_caption_font())
    draw.line([(px, 0), (px, 2 * px)], fill=(205, 208, 214))
    draw.line([(0, px), (2 * px, px)], fill=(205, 208, 214))
    sheet.save(path, format="PNG", compress_level=1)  # flat colours compress well anyway; level 6 cost ~30 ms


def _export_glb(shape, path: str, lin: float) -> bool:
    """GLB with our own node names (solid_N): nothing named by the program reaches the file."""
    solids = shape.solids()
    if len(solids) > 1:
        for i, solid in enumerate(solids, 1):
            solid.label = f"solid_{i}"
        node = bd.Compound(children=list(solids), label="model")
    else:
        node = solids[0]
        node.label = "solid_1"
    return bool(bd.export_gltf(node, path, binary=True, linear_deflection=lin, angular_deflection=ANGULAR_DEFLECTION))


def stl_bytes(tris: np.ndarray) -> bytes:
    """Binary STL of one part's triangles (the mesh made once; normals from the corners' winding)."""
    rec = np.zeros(len(tris), STL_RECORD)
    rec["corners"] = tris
    n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]).astype(np.float64)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    rec["normal"] = np.divide(n, length, out=np.zeros_like(n), where=length > 0)
    return b"Chat3D part".ljust(80) + np.uint32(len(tris)).tobytes() + rec.tobytes()


def _step_node(solid, name: str):
    node = bd.Solid(solid.wrapped)
    node.label = name
    return node


def step_model(solids: list, step_names: list[str]):
    """What the whole-model STEP is written from: one solid as a named product, several as an assembly
    ("model") of named products (build123d's XCAF export: STEPCAFControl_Writer with names on)."""
    if len(solids) == 1:
        return _step_node(solids[0], step_names[0])
    return bd.Compound(children=[_step_node(s, n) for s, n in zip(solids, step_names)], label="model")


def export_parts(solids: list, per_solid: list[np.ndarray], names: list[str], step_names: list[str], path: str) -> bool:
    """parts.zip: STL, STEP and 3MF of each of the first parts.MAX_PARTS solids, each file that part only."""
    members: dict[str, bytes] = {}
    scratch = path + ".3mf.tmp"
    for i, (solid, tris) in enumerate(zip(solids[: parts.MAX_PARTS], per_solid), 1):
        members[f"part-{i}.stl"] = stl_bytes(tris)
        buf = io.BytesIO()
        bd.export_step(_step_node(solid, step_names[i - 1]), buf)
        members[f"part-{i}.step"] = buf.getvalue()
        if export_3mf([tris], scratch, [names[i - 1]]):
            with open(scratch, "rb") as fh:
                members[f"part-{i}.3mf"] = fh.read()
            os.unlink(scratch)
    parts.write_bundle(path, members)
    return True


def export(
    shape,
    size: list[float],
    out_dir: str,
    formats: set[str],
    cap: int,
    sink: dict | None = None,
    names: list[str] | None = None,
) -> dict[str, str]:
    """Tessellate once, then write every requested format (and the PNG thumbnail) into out_dir.
    ``sink``, when given, receives the requirement measurements (issue 23) made from the same mesh. ``names``: the
    parts' names (parts.part_names), which the STEP, the 3MF and parts.zip carry; "Part n" when not given."""
    lin = linear_deflection(size)
    files: dict[str, str] = {}
    solids = shape.solids()
    names = names if names and len(names) == len(solids) else parts.part_names(None, len(solids))
    step_names = parts.part_names([parts.ascii_name(n) for n in names], len(names))

    def done(fmt: str, ok) -> None:
        path = os.path.join(out_dir, FILENAMES[fmt])
        # At the cap counts as too large: under RLIMIT_FSIZE a writer stops exactly there and reports failure.
        if os.path.isfile(path) and os.path.getsize(path) >= cap:
            raise PostError(
                "output_too_large", f"The {fmt.upper()} output is larger than the {cap // (1024 * 1024)} MB limit."
            )
        if not ok or not os.path.isfile(path):
            raise PostError("geometry", f"Exporting {fmt.upper()} failed.")
        files[fmt] = FILENAMES[fmt]

    shape.mesh(lin, ANGULAR_DEFLECTION)
    scratch = os.path.join(out_dir, ".solid.stl")
    per_solid = [_solid_triangles(s, scratch, cap) for s in solids]
    if sink is not None:
        sink["features"] = features_or_none(shape, per_solid, lin)
    if "stl" in formats:
        done(
            "stl",
            bd.export_stl(
                shape, os.path.join(out_dir, "model.stl"), tolerance=lin, angular_tolerance=ANGULAR_DEFLECTION
            ),
        )
    if "step" in formats:
        done("step", bd.export_step(step_model(solids, step_names), os.path.join(out_dir, "model.step")))
    if "3mf" in formats:
        done("3mf", export_3mf(per_solid, os.path.join(out_dir, "model.3mf"), names))
    if "parts" in formats and len(solids) > 1:
        done("parts", export_parts(solids, per_solid, names, step_names, os.path.join(out_dir, FILENAMES["parts"])))
    if "png" in formats:
        render_png(
            np.concatenate(per_solid) if per_solid else np.zeros((0, 3, 3), np.float32),
            os.path.join(out_dir, "model.png"),
        )
        done("png", True)
    if "views" in formats:
        render_views(
            np.concatenate(per_solid) if per_solid else np.zeros((0, 3, 3), np.float32),
            os.path.join(out_dir, FILENAMES["views"]),
        )
        done("views", True)
    built = topology_table(shape, per_solid, lin) if "topology" in formats and "glb" in formats else None
    if "glb" in formats:  # last: export_gltf cleans the triangulation afterwards
        done("glb", _export_glb(shape, os.path.join(out_dir, "model.glb"), lin))
    if built is not None:
        done("topology", write_topology(built, out_dir))
    return files


def topology_table(shape, per_solid: list[np.ndarray], lin: float) -> dict:
    """Issue 27: the face/edge table, from the triangulation made above (before the glTF writer cleans it)."""
    return topology.build(shape, per_solid, lin, ANGULAR_DEFLECTION)


def write_topology(built: dict, out_dir: str) -> bool:
    """Tag faces/edges in the GLB just written and write faces.json beside it (render_service/topology.py)."""
    built["table"]["glb_tagged"] = topology.tag_glb(os.path.join(out_dir, FILENAMES["glb"]), built)
    topology.write_table(os.path.join(out_dir, FILENAMES["topology"]), built)
    return True


def finish(src_dir: Path, out_dir: Path, *, max_output_bytes: int, formats: set[str], labels=None) -> dict:
    """Make the job's outputs from its geometry. Runs no user code; trusts nothing in src_dir.

    Returns ``{"ok": True, "size", "volume", "solids", "bbox", "valid", "parts", "files": {fmt: filename},
    "post_s"}`` or ``{"ok": False, "kind", "message"}``. ``formats``: any of FILENAMES (others are ignored).
    ``labels``: the job's untrusted per-solid labels (parts.read_labels), used only as parts.part_names allows.
    """
    t0 = time.perf_counter()
    try:
        shape = parse_brep(read_brep(Path(src_dir), max_output_bytes))
        m = measure(shape)
        solids = shape.solids()
        names = parts.part_names(labels, len(solids))
        m["parts"] = parts.describe(solids, names)
        sink: dict = {}
        files = export(
            shape, m["size"], os.fspath(out_dir), set(formats) & set(FILENAMES), max_output_bytes, sink, names=names
        )
        return {
            "ok": True,
            **m,
            "files": files,
            "features": sink.get("features"),
            "post_s": round(time.perf_counter() - t0, 4),
        }
    except PostError as err:
        return {"ok": False, "kind": err.kind, "message": err.message}
    except MemoryError:
        return {"ok": False, "kind": "memory", "message": "Making the model files ran out of memory (limit reached)."}
    except OSError as exc:
        if exc.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
            return {
                "ok": False,
                "kind": "output_too_large",
                "message": "The outputs are larger than the job's disk limit.",
            }
        return {
            "ok": False,
            "kind": "geometry",
            "message": f"Making the model files failed: {exc.strerror or exc}"[:500],
        }
    except Exception as exc:  # noqa: BLE001 - OCCT failing on odd geometry; the message names no path of ours
        return {
            "ok": False,
            "kind": "geometry",
            "message": f"Making the model files failed: {type(exc).__name__}: {exc}"[:500],
        }


def metrics_doc(post: dict) -> dict:
    """The render service's response ``metrics`` from a successful finish() answer (names the app reads)."""
    return {
        "bbox_size_mm": list(post["size"]),
        "bbox_min_mm": list(post["bbox"]["min"]),
        "bbox_max_mm": list(post["bbox"]["max"]),
        "volume_mm3": post["volume"],
        "solids": post["solids"],
        "valid": post["valid"],
        "features": post.get("features"),  # issue 23: holes, bosses, minimum wall (measure_features)
        "parts": post.get("parts"),  # issue 27: name, solid, size, extent and volume per part (parts.describe)
    }


def warm() -> None:
    """For a spare post-render process: run finish() once on a trusted 10 mm box, in a scratch folder.

    Faults in OCCT's, lib3mf's and Pillow's first-use costs (STEP schema, XCAF, mesher) off the job's path.
    """
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix=".warm-post-", dir=os.getcwd() if os.access(os.getcwd(), os.W_OK) else None)
    try:
        src, out = os.path.join(d, "src"), os.path.join(d, "out")
        os.mkdir(src, 0o700)
        os.mkdir(out, 0o700)
        write_brep(bd.Box(10, 10, 10), os.path.join(src, BREP_NAME))
        finish(Path(src), Path(out), max_output_bytes=16 << 20, formats=set(FILENAMES))
    except Exception:  # noqa: BLE001 - warming is an optimisation
        pass
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- issue 23: measurements the requirement checker reads (chat3d/domain/requirements.py) -------------------

FEATURE_CYLINDERS = 64  # at most this many distinct holes/bosses are listed (and classified); the rest is counted
WALL_SAMPLES = 48  # rays cast for the sampled minimum wall thickness (fixed seed: the same part gives the same value)


def measure_features(shape, per_solid: list[np.ndarray], lin: float) -> dict:
    """Holes and bosses (cylindrical faces grouped by axis and radius: diameter, axis, through or blind), the
    centre of mass and a sampled minimum wall thickness, from the parsed geometry only. Bounded: at most
    FEATURE_CYLINDERS cylinders are classified and WALL_SAMPLES rays cast, whatever the part."""
    shape.solids()
    mesh = np.concatenate(per_solid).astype(np.float64) if per_solid else np.zeros((0, 3, 3))
    eps = max(1e-3, 2 * lin)
    groups: dict[tuple, dict] = {}
    extra = 0
    for face in shape.faces():
        surf = BRepAdaptor_Surface(face.wrapped)
        if surf.GetType() != GeomAbs_Cylinder:
            continue
        cyl = surf.Cylinder()
        r = cyl.Radius()
        ax = cyl.Axis()
        d = np.array([ax.Direction().X(), ax.Direction().Y(), ax.Direction().Z()])
        k = int(np.argmax(np.abs(d)))
        d = d if d[k] > 0 else -d  # one sign per axis line
        o = np.array([ax.Location().X(), ax.Location().Y(), ax.Location().Z()])
        foot = o - d * (o @ d)  # the axis line's point nearest the origin
        key = (round(r, 2), *np.round(d, 3), *np.round(foot, 2))
        u0, u1, v0, v1 = surf.FirstUParameter(), surf.LastUParameter(), surf.FirstVParameter(), surf.LastVParameter()
        g = groups.get(key)
        if g is None:
            if len(groups) >= FEATURE_CYLINDERS:
                extra += 1
                continue
            g = groups[key] = {
                "r": r,
                "d": d,
                "o": o,
                "adir": np.array([ax.Direction().X(), ax.Direction().Y(), ax.Direction().Z()]),
                "vmin": math.inf,
                "vmax": -math.inf,
                "face": (surf, (u0 + u1) / 2, (v0 + v1) / 2),
                "face_obj": face,
            }
        g["vmin"], g["vmax"] = min(g["vmin"], v0), max(g["vmax"], v1)
    cylinders = []
    for g in groups.values():
        surf, um, vm = g["face"]
        p = surf.Value(um, vm)
        on_axis = g["o"] + g["adir"] * vm
        radial = np.array([p.X(), p.Y(), p.Z()]) - on_axis
        radial /= max(np.linalg.norm(radial), 1e-12)
        probe = np.array([p.X(), p.Y(), p.Z()])
        # The face's outward normal (its orientation applied) points at the axis for a hole, away for a boss.
        n = g["face_obj"].normal_at(bd.Vector(*probe))
        kind = "hole" if (n.X * radial[0] + n.Y * radial[1] + n.Z * radial[2]) < 0 else "boss"
        through = None
        if kind == "hole":  # just past both ends of the hole, on its axis: air on both sides = through
            ends = [g["o"] + g["adir"] * (g["vmin"] - eps), g["o"] + g["adir"] * (g["vmax"] + eps)]
            through = not any(_inside_mesh(mesh, e) for e in ends)
        mid = g["o"] + g["adir"] * ((g["vmin"] + g["vmax"]) / 2)
        cylinders.append(
            {
                "kind": kind,
                "diameter_mm": round(2 * g["r"], 4),
                "axis": [round(float(x), 4) + 0.0 for x in g["d"]],
                "at_mm": [round(float(x), 4) + 0.0 for x in mid],
                "length_mm": round(g["vmax"] - g["vmin"], 4),
                "through": through,
            }
        )
    centre = shape.center(bd.CenterOf.MASS)
    return {
        "cylinders": cylinders,
        "cylinders_not_listed": extra,
        "holes": sum(c["kind"] == "hole" for c in cylinders),
        "through_holes": sum(c["kind"] == "hole" and bool(c["through"]) for c in cylinders),
        "bosses": sum(c["kind"] == "boss" for c in cylinders),
        "centre_mm": [round(centre.X, 4), round(centre.Y, 4), round(centre.Z, 4)],
        "min_wall_mm": _min_wall(shape, per_solid, lin),
    }


def features_or_none(shape, per_solid: list[np.ndarray], lin: float) -> dict | None:
    """measure_features, or None when OCCT cannot measure this geometry (the part is still delivered; its
    requirements then read "not checkable")."""
    try:
        return measure_features(shape, per_solid, lin)
    except Exception:  # noqa: BLE001 - odd geometry; measuring is not worth failing the render for
        return None


def _inside_mesh(tris: np.ndarray, point: np.ndarray) -> bool:
    """Inside the closed mesh: an odd number of crossings along a fixed, slightly skewed ray (numpy; OCCT's solid
    classifier took seconds on the corpus's heavy boolean part)."""
    if not len(tris):
        return False
    d = np.array([0.5773, 0.5774, 0.5775])
    e1, e2 = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    p = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, p)
    good = np.abs(det) > 1e-12
    inv = np.where(good, 1.0 / np.where(good, det, 1.0), 0.0)
    t0 = point - tris[:, 0]
    u = np.einsum("ij,ij->i", t0, p) * inv
    q = np.cross(t0, e1)
    v = (q @ d) * inv
    w = np.einsum("ij,ij->i", e2, q) * inv
    return bool(np.count_nonzero(good & (u >= 0) & (v >= 0) & (u + v <= 1) & (w > 0)) % 2)


def _min_wall(shape, per_solid: list[np.ndarray], lin: float) -> float | None:
    """Sampled minimum wall: from WALL_SAMPLES surface points (area-weighted, fixed seed), the distance along the
    inward normal to the next surface of the mesh (numpy ray/triangle tests: OCCT's exact intersector took 2.7 s
    on a helix). A sample, not a proof: a thin spot between samples can be missed; exact to the mesh tolerance."""
    tris = np.concatenate(per_solid).astype(np.float64) if per_solid else np.zeros((0, 3, 3))
    if not len(tris):
        return None
    e1, e2 = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    normals = np.cross(e1, e2)
    area = np.linalg.norm(normals, axis=1)
    ok = np.flatnonzero(area > 1e-12)
    if not len(ok):
        return None
    rng = np.random.default_rng(23)
    pick = rng.choice(ok, size=min(WALL_SAMPLES, len(ok)), replace=False, p=area[ok] / area[ok].sum())
    skip = 2 * lin + 1e-3  # the facet's own surface, when a chord sits outside a concave face
    best = math.inf
    for i in pick:
        origin = tris[i].mean(axis=0)
        d = -normals[i] / area[i]
        p = np.cross(d, e2)  # Moller-Trumbore against every triangle at once
        det = np.einsum("ij,ij->i", e1, p)
        good = np.abs(det) > 1e-12
        inv = np.where(good, 1.0 / np.where(good, det, 1.0), 0.0)
        t0 = origin - tris[:, 0]
        u = np.einsum("ij,ij->i", t0, p) * inv
        q = np.cross(t0, e1)
        v = (q @ d) * inv
        w = np.einsum("ij,ij->i", e2, q) * inv
        hit = good & (u >= 0) & (v >= 0) & (u + v <= 1) & (w > skip)
        if hit.any():
            best = min(best, float(w[hit].min()))
    return round(best, 4) if math.isfinite(best) else None
