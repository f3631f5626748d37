"""Geometry scores of a generated mesh against a reference, and CadQueryEval's pass rule.

Alignment: a proper rigid transform (rotation + translation; no scaling, no mirroring) of the generated
mesh onto the reference, found by point-to-surface ICP (`trimesh.registration.icp`) started from two
guesses — the principal-axes match that `trimesh.registration.mesh_other` picks (it tries every axis
permutation, then runs ICP) and the identity after matching centroids — keeping the one with the smaller
mean distance. The benchmark itself uses Open3D's FPFH RANSAC then ICP; both are rigid and end in ICP.

Distances are point-to-surface (samples of one surface to the nearest point of the other mesh, both ways),
so identical solids score 0 rather than the sampling floor of point-to-point distances.
Chamfer = mean of the two directional means; Hausdorff 95 = 95th percentile of both directions pooled
(the benchmark's definitions). Volume IoU is exact: the volumes of the manifold3d boolean intersection
and of the two solids.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from trimesh import registration

# CadQueryEval's thresholds (../shared/eval/README.md): all must hold for a pass.
BBOX_TOLERANCE_MM = 1.0
VOLUME_TOLERANCE_PCT = 2.0
CHAMFER_MAX_MM = 1.0
HAUSDORFF95_MAX_MM = 1.0
SAMPLES = 20_000
SEED = 23


@dataclass
class Score:
    """One generated mesh scored against its reference; None where a measure could not be taken."""

    watertight: bool = False
    components: int = 0
    components_ok: bool = False
    bbox_diff_mm: list[float] | None = None  # sorted extents, generated − reference, after alignment
    bbox_ok: bool = False
    volume_mm3: float | None = None
    reference_volume_mm3: float | None = None
    volume_diff_pct: float | None = None
    volume_ok: bool = False
    chamfer_mm: float | None = None
    hausdorff95_mm: float | None = None
    iou: float | None = None
    aligned: bool = False
    transform: list[list[float]] | None = None
    passed: bool = False
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def load_mesh(data: bytes | str | Path) -> trimesh.Trimesh:
    """An STL as a clean triangle mesh: coincident vertices merged (to 1e-4 mm, as the benchmark's cleaning
    does) and degenerate triangles dropped, so tessellation seams do not read as open edges."""
    if isinstance(data, (str, Path)):
        data = Path(data).read_bytes()
    import io

    mesh = trimesh.load_mesh(io.BytesIO(data), file_type="stl", process=True)
    if not isinstance(mesh, trimesh.Trimesh):
        raise ValueError("the STL holds no triangle mesh")
    mesh.merge_vertices(digits_vertex=4)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.remove_unreferenced_vertices()
    return mesh


def _sample(mesh: trimesh.Trimesh, n: int, seed: int) -> np.ndarray:
    points, _ = trimesh.sample.sample_surface(mesh, n, seed=seed)
    return np.asarray(points)


def _surface_distances(points: np.ndarray, mesh: trimesh.Trimesh) -> np.ndarray:
    _, distance, _ = trimesh.proximity.closest_point(mesh, points)
    return np.asarray(distance)


def align(generated: trimesh.Trimesh, reference: trimesh.Trimesh, samples: int = 1500) -> np.ndarray:
    """The 4×4 proper rigid transform taking `generated` onto `reference` (see the module docstring)."""
    points = _sample(generated, samples, SEED)
    candidates = []
    try:
        start, _ = registration.mesh_other(generated, reference, samples=samples, scale=False, icp_first=10,
                                           icp_final=30, reflection=False, seed=SEED)
        candidates.append(np.asarray(start))
    except Exception:  # degenerate inertia (e.g. a flat or empty mesh): the centroid guess still runs
        pass
    shift = np.eye(4)
    shift[:3, 3] = reference.centroid - generated.centroid
    candidates.append(shift)
    best, best_cost = np.eye(4), np.inf
    for initial in candidates:
        matrix, _, cost = registration.icp(points, reference, initial=initial, max_iterations=50,
                                           reflection=False, scale=False)
        if cost < best_cost:
            best, best_cost = np.asarray(matrix), cost
    return best


def iou(a: trimesh.Trimesh, b: trimesh.Trimesh) -> float | None:
    """Volume intersection over union of two closed meshes (manifold3d booleans); None if either is open."""
    if not (a.is_watertight and b.is_watertight):
        return None
    inter = trimesh.boolean.intersection([a, b], engine="manifold", check_volume=False)
    vi = float(inter.volume) if len(inter.faces) else 0.0
    union = abs(float(a.volume)) + abs(float(b.volume)) - vi
    return vi / union if union > 0 else None


def score(generated: trimesh.Trimesh, reference: trimesh.Trimesh, *, expected_components: int = 1,
          align_meshes: bool = True, samples: int = SAMPLES) -> Score:
    """Every measure of the benchmark's rule plus IoU; `passed` is CadQueryEval's pass."""
    s = Score()
    if len(generated.faces) == 0:
        s.errors.append("the generated mesh has no triangles")
        return s
    s.watertight = bool(generated.is_watertight)
    s.components = int(generated.body_count)
    s.components_ok = s.components == expected_components
    transform = align(generated, reference) if align_meshes else np.eye(4)
    moved = generated.copy()
    moved.apply_transform(transform)
    s.aligned, s.transform = align_meshes, transform.round(6).tolist()

    diff = np.sort(moved.bounding_box.extents) - np.sort(reference.bounding_box.extents)
    s.bbox_diff_mm = [round(float(d), 4) for d in diff]
    s.bbox_ok = bool(np.all(np.abs(diff) <= BBOX_TOLERANCE_MM))

    s.reference_volume_mm3 = float(reference.volume)
    if s.watertight:
        s.volume_mm3 = float(moved.volume)
        s.volume_diff_pct = abs(s.volume_mm3 - s.reference_volume_mm3) / abs(s.reference_volume_mm3) * 100
        s.volume_ok = s.volume_diff_pct <= VOLUME_TOLERANCE_PCT
        s.iou = iou(moved, reference)
    else:
        s.errors.append("the generated mesh is not watertight: no volume or IoU")

    d_gen = _surface_distances(_sample(moved, samples, SEED), reference)
    d_ref = _surface_distances(_sample(reference, samples, SEED + 1), moved)
    s.chamfer_mm = float((d_gen.mean() + d_ref.mean()) / 2)
    s.hausdorff95_mm = float(np.percentile(np.concatenate([d_gen, d_ref]), 95))
    s.passed = bool(s.watertight and s.components_ok and s.bbox_ok and s.volume_ok
                    and s.chamfer_mm <= CHAMFER_MAX_MM and s.hausdorff95_mm <= HAUSDORFF95_MAX_MM)
    return s
