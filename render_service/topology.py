"""Topology for the preview (issue 27): a face/edge table and face/edge nodes in the GLB, made by the trusted post step.

Ids. Faces are numbered F1, F2, ... and edges E1, E2, ... in the order OCCT's explorer walks the parsed
model: solid by solid (``shape.solids()``), faces with ``TopExp_Explorer`` (the order the STL and glTF
writers use, so face N is the N-th triangulated face they write) and edges through an indexed map (each
shared edge once, first seen first). That order is a function of the B-rep alone: a version keeps one
``model.brep``, reading the same bytes gives the same shape structure, and the walk is deterministic, so
re-rendering or re-opening a version gives the same ids. A new version is a new B-rep, so ids are not
carried across versions (the app clears a selection when the version changes).

The GLB written by OCCT has one primitive per triangulated face, in that order; ``tag_glb`` rewrites only
its JSON so each face becomes a node named ``F<n>`` under its ``solid_<i>`` node, and appends each edge as
a line strip node ``E<n>`` under an ``edges`` node. Meshes imported from STL (every face a triangle) are
grouped: coplanar neighbouring triangles become one face (one node holding all their primitives).

Nothing here reads anything the job wrote except the geometry the post step parsed.
"""

from __future__ import annotations

import json
import math
import struct
from itertools import islice
from typing import Any, NamedTuple

import numpy as np
from OCP.BRep import BRep_Tool
from OCP.BRepAdaptor import BRepAdaptor_Curve, BRepAdaptor_Surface
from OCP.collections import IndexedDataMap_TopoDS_Shape_List_TopoDS_Shape_TopTools_ShapeMapHasher as _EdgeFaces
from OCP.GCPnts import GCPnts_TangentialDeflection
from OCP.GeomAbs import GeomAbs_CurveType, GeomAbs_SurfaceType
from OCP.TopAbs import TopAbs_EDGE, TopAbs_FACE, TopAbs_REVERSED
from OCP.TopExp import TopExp, TopExp_Explorer
from OCP.TopLoc import TopLoc_Location
from OCP.TopoDS import TopoDS

FACES_NAME = "faces.json"
MAX_FACES = 2000  # table rows; the GLB still tags every face
MAX_EDGES = 4000  # table rows and edge nodes
MESH_FACES = 12  # a solid with more than this many faces, all planar triangles, is an imported mesh
Z_UP_TO_Y_UP = [-math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5)]  # the rotation OCCT's glTF writer puts on its root

_SURFACES = {
    GeomAbs_SurfaceType.GeomAbs_Plane: "plane",
    GeomAbs_SurfaceType.GeomAbs_Cylinder: "cylinder",
    GeomAbs_SurfaceType.GeomAbs_Cone: "cone",
    GeomAbs_SurfaceType.GeomAbs_Sphere: "sphere",
    GeomAbs_SurfaceType.GeomAbs_Torus: "torus",
    GeomAbs_SurfaceType.GeomAbs_BezierSurface: "bezier",
    GeomAbs_SurfaceType.GeomAbs_BSplineSurface: "bspline",
    GeomAbs_SurfaceType.GeomAbs_SurfaceOfRevolution: "revolution",
    GeomAbs_SurfaceType.GeomAbs_SurfaceOfExtrusion: "extrusion",
    GeomAbs_SurfaceType.GeomAbs_OffsetSurface: "offset",
}
_CURVES = {
    GeomAbs_CurveType.GeomAbs_Line: "line",
    GeomAbs_CurveType.GeomAbs_Circle: "circle",
    GeomAbs_CurveType.GeomAbs_Ellipse: "ellipse",
    GeomAbs_CurveType.GeomAbs_Hyperbola: "hyperbola",
    GeomAbs_CurveType.GeomAbs_Parabola: "parabola",
    GeomAbs_CurveType.GeomAbs_BezierCurve: "bezier",
    GeomAbs_CurveType.GeomAbs_BSplineCurve: "bspline",
    GeomAbs_CurveType.GeomAbs_OffsetCurve: "offset",
}


def _r(v, nd: int = 3):
    if isinstance(v, (list, tuple, np.ndarray)):
        return [round(float(x), nd) + 0.0 for x in v]
    return round(float(v), nd) + 0.0


def _xyz(p) -> list[float]:
    return [p.X(), p.Y(), p.Z()]


def _faces_in_order(solid) -> list:
    """The solid's faces as the STL/glTF writers walk them (explorer order), each with its triangle count."""
    out = []
    exp = TopExp_Explorer(solid.wrapped, TopAbs_FACE)
    while exp.More():
        face = TopoDS.Face(exp.Current())
        tri = BRep_Tool.Triangulation_s(face, TopLoc_Location())
        n = tri.NbTriangles() if tri is not None else 0
        out.append((face, n))
        exp.Next()
    return out


class _Triangles(NamedTuple):
    """Per-triangle terms of a face row: corners (float64), cross products, twice the areas, centroids.

    Made once per solid and sliced per face, because numpy's per-call overhead, not the arithmetic, was the
    cost of a face row. Every term is computed triangle by triangle, so a slice holds exactly the values
    the face's own triangles would give.
    """

    t: np.ndarray
    cross: np.ndarray
    dbl: np.ndarray
    cents: np.ndarray

    @classmethod
    def of(cls, tris: np.ndarray) -> _Triangles:
        t = tris.astype(np.float64)
        cross = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        return cls(t, cross, np.linalg.norm(cross, axis=1), t.mean(axis=1))

    def part(self, lo: int, hi: int) -> _Triangles:
        return _Triangles(self.t[lo:hi], self.cross[lo:hi], self.dbl[lo:hi], self.cents[lo:hi])


def _surface_row(face, tri: _Triangles) -> dict:
    """Type, area, centre, an interior point and the surface's own axis/normal/radius for one face."""
    row: dict = {}
    t, cross, dbl, cents = tri
    total = dbl.sum()
    area = float(total) / 2
    centre = (cents * dbl[:, None]).sum(0) / max(total, 1e-12) if len(t) else np.zeros(3)
    big = int(dbl.argmax()) if len(t) else 0
    point = cents[big] if len(t) else centre  # inside the face (a centroid may sit in a hole)
    tri_normal = cross[big] / max(dbl[big], 1e-12) if len(t) else np.zeros(3)
    try:
        surf = BRepAdaptor_Surface(face, True)
        kind = surf.GetType()
    except Exception:  # noqa: BLE001 - odd surfaces get the generic type
        surf, kind = None, None
    row["type"] = _SURFACES.get(kind, "other")
    row["area"] = _r(area, 2)
    row["centre"] = _r(centre)
    row["point"] = _r(point)
    if len(t):
        corners = t.reshape(-1, 3)
        row["bbox"] = {"min": _r(corners.min(0)), "max": _r(corners.max(0))}
    reversed_ = face.Orientation() == TopAbs_REVERSED
    if kind == GeomAbs_SurfaceType.GeomAbs_Plane:
        d = surf.Plane().Axis().Direction()
        n = np.array(_xyz(d)) * (-1 if reversed_ else 1)
        row["normal"] = _r(n, 4)
    elif kind in (
        GeomAbs_SurfaceType.GeomAbs_Cylinder,
        GeomAbs_SurfaceType.GeomAbs_Cone,
        GeomAbs_SurfaceType.GeomAbs_Sphere,
        GeomAbs_SurfaceType.GeomAbs_Torus,
    ):
        if kind == GeomAbs_SurfaceType.GeomAbs_Cylinder:
            g = surf.Cylinder()
            row["radius"] = _r(g.Radius())
        elif kind == GeomAbs_SurfaceType.GeomAbs_Cone:
            g = surf.Cone()
            row["radius"] = _r(g.RefRadius())
            row["half_angle_deg"] = _r(math.degrees(g.SemiAngle()), 2)
        elif kind == GeomAbs_SurfaceType.GeomAbs_Sphere:
            g = surf.Sphere()
            row["radius"] = _r(g.Radius())
        else:
            g = surf.Torus()
            row["radius"] = _r(g.MajorRadius())
            row["minor_radius"] = _r(g.MinorRadius())
        ax = g.Position()
        axis, origin = np.array(_xyz(ax.Direction())), np.array(_xyz(ax.Location()))
        row["axis"] = _r(axis, 4)
        row["axis_point"] = _r(origin)
        if kind == GeomAbs_SurfaceType.GeomAbs_Cylinder and len(t):
            # Which way the material is: a hole's wall faces its axis (the triangles follow the face's orientation).
            along = origin + axis * float(np.dot(point - origin, axis))
            row["inner"] = bool(np.dot(tri_normal, point - along) < 0)
            span = t.reshape(-1, 3) @ axis
            top, bottom = span.max(), span.min()
            row["length"] = _r(top - bottom)
            # The axis point at the face's middle along the axis (for 'hole at (x, y)').
            mid = origin + axis * float((top + bottom) / 2 - np.dot(origin, axis))
            row["axis_point"] = _r(mid)
    return row


def _mesh_groups(faces: list, tris: list[np.ndarray]) -> list[list[int]]:
    """Imported meshes: neighbouring triangles on one plane become one face (indices into `faces`)."""
    n = len(faces)
    keys = []
    for t in tris:
        t = t.astype(np.float64)
        c = np.cross(t[0, 1] - t[0, 0], t[0, 2] - t[0, 0]) if len(t) else np.zeros(3)
        ln = np.linalg.norm(c)
        nrm = c / ln if ln > 0 else c
        keys.append((tuple(np.round(nrm, 3)), round(float(np.dot(nrm, t[0, 0])) if len(t) else 0.0, 2)))
    # Neighbours share a corner vertex (on a 1 um grid); union-find over shared corners with the same plane key.
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict = {}
    for i, t in enumerate(tris):
        for corner in np.round(t.reshape(-1, 3) * 1000).astype(np.int64):
            k = (keys[i], tuple(corner))
            j = seen.setdefault(k, i)
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def _is_mesh(faces: list) -> bool:
    if len(faces) <= MESH_FACES:
        return False
    for face, _n in faces[:: max(1, len(faces) // 32)]:
        try:
            if BRepAdaptor_Surface(face, False).GetType() != GeomAbs_SurfaceType.GeomAbs_Plane:
                return False
        except Exception:  # noqa: BLE001
            return False
        exp, n = TopExp_Explorer(face, TopAbs_EDGE), 0
        while exp.More() and n < 4:
            n += 1
            exp.Next()
        if n != 3:
            return False
    return True


def _edge_polyline(edge, faces) -> np.ndarray | None:
    """The edge's nodes in the triangulation of a face it bounds (made once for the STL/GLB), in mm, global."""
    for face in faces:
        loc = TopLoc_Location()
        tri = BRep_Tool.Triangulation_s(TopoDS.Face(face), loc)
        if tri is None:
            continue
        poly = BRep_Tool.PolygonOnTriangulation_s(edge, tri, loc)
        if poly is None or poly.NbNodes() < 2:
            continue
        nodes = (tri.Node(poly.Node(k)) for k in range(1, poly.NbNodes() + 1))
        if not loc.IsIdentity():  # moving by the identity changes nothing: skip the call per node
            trsf = loc.Transformation()
            nodes = (p.Transformed(trsf) for p in nodes)
        return np.array([[p.X(), p.Y(), p.Z()] for p in nodes])
    return None


def _edge_rows(
    solid, solid_no: int, face_ids: dict, lin: float, ang: float, first: int, room: int
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """One solid's edges (each shared edge once): table rows and their polylines (for the GLB)."""
    anc = _EdgeFaces()  # edges in first-seen order, each with the faces around it
    TopExp.MapShapesAndAncestors_s(solid.wrapped, TopAbs_EDGE, TopAbs_FACE, anc)
    rows: list[dict[str, Any]] = []
    lines: list[np.ndarray] = []
    for i in range(1, anc.Extent() + 1):
        if len(rows) >= room:
            break
        edge = TopoDS.Edge(anc.FindKey(i))
        if BRep_Tool.Degenerated_s(edge):
            continue
        try:
            curve = BRepAdaptor_Curve(edge)
            kind = curve.GetType()
            around = _shapes(anc.FindFromIndex(i))
            poly = _edge_polyline(edge, around)
            if poly is None:  # no mesh on it (rare): sample the curve itself
                pts = GCPnts_TangentialDeflection(curve, ang, lin)
                poly = np.array([_xyz(pts.Value(k)) for k in range(1, pts.NbPoints() + 1)])
            if kind == GeomAbs_CurveType.GeomAbs_Line:
                chord = poly[-1] - poly[0]
                length = math.sqrt(chord.dot(chord))  # what np.linalg.norm does, without its checks
            elif kind == GeomAbs_CurveType.GeomAbs_Circle:
                length = curve.Circle().Radius() * abs(curve.LastParameter() - curve.FirstParameter())
            else:  # along the mesh's polyline: integrating a long helix costs seconds
                length = float(np.linalg.norm(np.diff(poly, axis=0), axis=1).sum())
        except Exception:  # noqa: BLE001 - an edge OCCT cannot walk is left out
            continue
        if len(poly) < 2:
            continue
        row = {
            "id": f"E{first + len(rows)}",
            "solid": solid_no,
            "type": _CURVES.get(kind, "other"),
            "length": _r(length),
        }
        mid = curve.Value((curve.FirstParameter() + curve.LastParameter()) / 2)
        row["centre"] = row["point"] = _r(_xyz(mid))  # point: on the edge (a circle's centre is not)
        if kind == GeomAbs_CurveType.GeomAbs_Circle:
            c = curve.Circle()
            row["centre"] = _r(_xyz(c.Location()))
            row["radius"] = _r(c.Radius())
            row["axis"] = _r(_xyz(c.Axis().Direction()), 4)
        elif kind == GeomAbs_CurveType.GeomAbs_Line:
            row["axis"] = _r(_xyz(curve.Line().Direction()), 4)
        owners = []
        for f in around:
            fid = face_ids.get(_key(f))
            if fid and fid not in owners:
                owners.append(fid)
        row["faces"] = owners
        rows.append(row)
        lines.append(poly.astype(np.float32))
    return rows, lines


def _shapes(occt_list) -> list:
    """The shapes of an OCP list, in order, without ending on StopIteration.

    OCP's list iterator signals its end with a C++ exception, which unwinds through OCP's huge library:
    about a millisecond each time, once per edge here. Taking exactly ``Size()`` items never reaches the end.
    """
    return list(islice(occt_list, occt_list.Size()))


def _key(shape) -> int:
    """Same for the same sub-shape (TShape and location), as OCP hashes shapes."""
    return hash(shape)


def build(shape, per_solid: list[np.ndarray], lin: float, ang: float) -> dict:
    """The face/edge table for a meshed shape, plus (under ``_glb``) what `tag_glb` needs.

    ``per_solid`` are the triangles the post step already read per solid (explorer order per face).
    """
    faces_out: list[dict[str, Any]] = []
    edges_out: list[dict[str, Any]] = []
    glb_faces: list[
        list[tuple[str, list[int]]] | None
    ] = []  # per solid: its face ids with their groups; None: untagged
    glb_edges: list[tuple[str, np.ndarray]] = []  # edge id, polyline
    notes = []
    total_faces = 0
    for s_no, (solid, tris) in enumerate(zip(shape.solids(), per_solid), 1):
        faces = _faces_in_order(solid)
        counts = np.array([n for _f, n in faces], np.int64)
        if int(counts.sum()) != len(tris):
            notes.append(f"solid {s_no}: triangles do not match its faces; faces not tagged")
            glb_faces.append(None)
            continue
        bounds = np.concatenate([[0], np.cumsum(counts)])
        meshed = [i for i, (_f, n) in enumerate(faces) if n > 0]  # the glTF writer skips untriangulated faces
        face_tris = [tris[bounds[i] : bounds[i + 1]] for i in meshed]
        solid_tris = _Triangles.of(tris)
        if _is_mesh([faces[i] for i in meshed]):
            groups = _mesh_groups([faces[i] for i in meshed], face_tris)
            notes.append(f"solid {s_no} is a triangle mesh: coplanar neighbouring triangles are merged into faces")
        else:
            groups = [[k] for k in range(len(meshed))]
        ids_here, face_ids = [], {}
        for g in groups:
            total_faces += 1
            fid = f"F{total_faces}"
            ids_here.append((fid, g))
            for k in g:
                face_ids[_key(faces[meshed[k]][0])] = fid
            if len(faces_out) < MAX_FACES:
                if len(g) == 1:
                    i = meshed[g[0]]
                    row = _surface_row(faces[i][0], solid_tris.part(bounds[i], bounds[i + 1]))
                else:
                    row = _surface_row(faces[meshed[g[0]]][0], _Triangles.of(np.concatenate([face_tris[k] for k in g])))
                    row["type"] = "plane"
                    row["triangles"] = len(g)
                faces_out.append({"id": fid, "solid": s_no, **row})
        glb_faces.append(ids_here)
        rows, lines = (
            _edge_rows(solid, s_no, face_ids, lin, ang, len(edges_out) + 1, MAX_EDGES - len(edges_out))
            if not (len(groups) < len(meshed))
            else ([], [])
        )
        edges_out.extend(rows)
        glb_edges.extend(zip([r["id"] for r in rows], lines))
    if total_faces > len(faces_out):
        notes.append(f"{total_faces} faces; the table lists the first {len(faces_out)}")
    if len(edges_out) >= MAX_EDGES:
        notes.append(f"edges cut at {MAX_EDGES}")
    table = {
        "version": 1,
        "faces": faces_out,
        "edges": edges_out,
        "face_count": total_faces,
        "edge_count": len(edges_out),
        "note": "; ".join(notes),
    }
    return {"table": table, "_glb": {"faces": glb_faces, "edges": glb_edges}}


def _read_glb(data: bytes) -> tuple[dict, bytearray]:
    magic, _ver, _total = struct.unpack_from("<III", data, 0)
    if magic != 0x46546C67:
        raise ValueError("not a GLB")
    jlen, _jt = struct.unpack_from("<II", data, 12)
    doc = json.loads(data[20 : 20 + jlen])
    off = 20 + jlen
    binary = bytearray()
    if off < len(data):
        blen, _bt = struct.unpack_from("<II", data, off)
        binary = bytearray(data[off + 8 : off + 8 + blen])
    return doc, binary


def _write_glb(doc: dict, binary: bytearray) -> bytes:
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return b"".join(
        [
            struct.pack("<III", 0x46546C67, 2, total),
            struct.pack("<II", len(js), 0x4E4F534A),
            js,
            struct.pack("<II", len(binary), 0x004E4942),
            bytes(binary),
        ]
    )


def tag_glb(path: str, built: dict) -> bool:
    """Rewrite the GLB so each face is a node ``F<n>`` (under its ``solid_<i>``) and each edge a line ``E<n>``.

    Only the JSON changes for faces (primitives move into one mesh per face); edge polylines are appended
    to the binary chunk in metres, Z up, under an ``edges`` node with the writer's Z-up-to-Y-up rotation.
    Returns False (file untouched) when the GLB does not have the expected one-primitive-per-face layout.
    """
    with open(path, "rb") as fh:
        doc, binary = _read_glb(fh.read())
    nodes, meshes = doc.get("nodes", []), doc.get("meshes", [])
    by_name = {n.get("name"): i for i, n in enumerate(nodes)}
    plan = built["_glb"]["faces"]
    for s_no, ids in enumerate(plan, 1):
        node_i = by_name.get(f"solid_{s_no}")
        if ids is None or node_i is None or "mesh" not in nodes[node_i]:
            continue
        prims = meshes[nodes[node_i]["mesh"]]["primitives"]
        if sum(len(g) for _fid, g in ids) != len(prims):
            return False
    for s_no, ids in enumerate(plan, 1):
        node_i = by_name.get(f"solid_{s_no}")
        if ids is None or node_i is None or "mesh" not in nodes[node_i]:
            continue
        node = nodes[node_i]
        prims = meshes[node.pop("mesh")]["primitives"]
        children = node.setdefault("children", [])
        for fid, g in ids:
            meshes.append({"name": fid, "primitives": [prims[k] for k in g]})
            nodes.append({"name": fid, "mesh": len(meshes) - 1})
            children.append(len(nodes) - 1)
    edges = built["_glb"]["edges"]
    if edges:
        accessors, views = doc.setdefault("accessors", []), doc.setdefault("bufferViews", [])
        binary += b"\0" * (-len(binary) % 4)
        start = len(binary)
        edge_nodes = []
        for eid, pts in edges:
            metres = np.ascontiguousarray(pts * 0.001, dtype="<f4")
            views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": metres.nbytes})
            binary += metres.tobytes()
            accessors.append(
                {
                    "bufferView": len(views) - 1,
                    "componentType": 5126,
                    "count": len(metres),
                    "type": "VEC3",
                    "min": metres.min(0).tolist(),
                    "max": metres.max(0).tolist(),
                }
            )
            meshes.append({"name": eid, "primitives": [{"attributes": {"POSITION": len(accessors) - 1}, "mode": 3}]})
            nodes.append({"name": eid, "mesh": len(meshes) - 1})
            edge_nodes.append(len(nodes) - 1)
        del start
        nodes.append({"name": "edges", "rotation": Z_UP_TO_Y_UP, "children": edge_nodes})
        scene = doc.get("scenes", [{}])[doc.get("scene", 0)]
        scene.setdefault("nodes", []).append(len(nodes) - 1)
    doc["buffers"] = [{"byteLength": len(binary) + (-len(binary) % 4)}]
    with open(path, "wb") as fh:
        fh.write(_write_glb(doc, binary))
    return True


def write_table(path: str, built: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(built["table"], separators=(",", ":")))  # dumps: the C encoder (dump streams in Python)
