"""Geometry scores of a generated mesh against a reference, and CadQueryEval's pass rule.

Both surfaces are sampled uniformly (50,000 points each, as the benchmark does, with one fixed seed so a
run is repeatable and identical meshes give identical clouds). Distances are point-to-point nearest
neighbours between the two clouds (scipy k-d trees), the benchmark's definition: Chamfer = mean of the two
directional means; Hausdorff 95 = 95th percentile of both directions pooled.

Alignment: a proper rigid transform (rotation + translation; no scaling, no mirroring) of the generated
mesh onto the reference: point-to-point ICP (`trimesh.registration.icp`) of 5,000 of the generated samples onto the
reference's 50,000, from five starts — the centroid match, and the generated part's principal inertia frame put onto
the reference's (`Trimesh.principal_inertia_transform`) in each of the four proper axis flips — keeping
the one with the smallest mean squared distance. The benchmark itself starts ICP from Open3D's FPFH
RANSAC; both are rigid and end in ICP.

Volume IoU is exact: the volume of the manifold3d boolean intersection over that of the union.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree
from trimesh import registration

# CadQueryEval's thresholds (../shared/eval/README.md): all must hold for a pass.
BBOX_TOLERANCE_MM = 1.0
VOLUME_TOLERANCE_PCT = 2.0
CHAMFER_MAX_MM = 1.0
HAUSDORFF95_MAX_MM = 1.0
SAMPLES = 50_000
ALIGN_SAMPLES = 5_000
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


def _sample(mesh: trimesh.Trimesh, n: int) -> np.ndarray:
    points, _ = trimesh.sample.sample_surface(mesh, n, seed=SEED)
    return np.asarray(points)


# Proper rotations that keep a principal frame's axes as axes: the identity and half-turns about x, y, z.
_FLIPS = [np.diag([1.0, 1.0, 1.0, 1.0]), np.diag([1.0, -1.0, -1.0, 1.0]),
          np.diag([-1.0, 1.0, -1.0, 1.0]), np.diag([-1.0, -1.0, 1.0, 1.0])]


def align(generated: trimesh.Trimesh, reference: trimesh.Trimesh, samples: int = SAMPLES) -> np.ndarray:
    """The 4×4 proper rigid transform taking `generated` onto `reference` (see the module docstring).

    Starts: the centroid match, and the generated part's principal inertia frame (trimesh) put onto the
    reference's in each of the four proper axis flips. ICP (trimesh) runs between seeded point clouds with
    k-d tree look-ups, so its cost does not grow with how unlike the shapes are (point-to-triangle
    queries did: minutes for a box against a torus) and an exact copy, moved, lands exactly."""
    # ICP moves a random subset of the generated cloud onto the whole reference cloud: the dense target
    # keeps the sampling floor's pull small, and an exact copy's subset lies on its target points.
    points, target = _sample(generated, samples)[:ALIGN_SAMPLES], _sample(reference, samples)
    shift = np.eye(4)
    shift[:3, 3] = reference.centroid - generated.centroid
    starts = [shift]
    try:
        to_gen_frame = generated.principal_inertia_transform
        from_ref_frame = np.linalg.inv(reference.principal_inertia_transform)
        for flip in _FLIPS:
            start = from_ref_frame @ flip @ to_gen_frame
            if np.linalg.det(start[:3, :3]) > 0:  # a mirror image is not the same part
                starts.append(start)
    except (np.linalg.LinAlgError, ValueError):  # a degenerate mesh: the centroid start still runs
        pass
    best, best_cost = np.eye(4), np.inf
    for initial in starts:
        matrix, _, cost = registration.icp(points, target, initial=initial, max_iterations=60,
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

    gen_points, ref_points = _sample(moved, samples), _sample(reference, samples)
    d_gen, _ = cKDTree(ref_points).query(gen_points)
    d_ref, _ = cKDTree(gen_points).query(ref_points)
    s.chamfer_mm = float((d_gen.mean() + d_ref.mean()) / 2)
    s.hausdorff95_mm = float(np.percentile(np.concatenate([d_gen, d_ref]), 95))
    s.passed = bool(s.watertight and s.components_ok and s.bbox_ok and s.volume_ok
                    and s.chamfer_mm <= CHAMFER_MAX_MM and s.hausdorff95_mm <= HAUSDORFF95_MAX_MM)
    return s
