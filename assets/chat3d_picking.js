// Picking faces and edges in the viewer (issue 27): the plain math and selection rules, free of three.js and
// React so they can be tested on their own (tests/frontend/test_picking_math.py runs them in Node).
// Points are [x, y] in CSS pixels of the canvas; a projected point behind the camera is null.

// How close (CSS px) the pointer must come to an edge's drawn line to pick the edge rather than the face
// under it: a line is one pixel wide, a face is an area.
export const EDGE_TOLERANCE_PX = 6;
// A press that moved further than this before its click was an orbit drag, not a pick.
export const DRAG_PX = 4;

// Distance from p to the segment a-b, and where on it (t in 0..1) the nearest point lies.
export function segmentDistance(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2 : 0;
  t = Math.min(Math.max(t, 0), 1);
  const x = a[0] + t * dx;
  const y = a[1] + t * dy;
  return { distance: Math.hypot(p[0] - x, p[1] - y), t };
}

// The edges whose drawn polylines pass within `tolerance` px of p, nearest first: per edge its closest
// point as {id, distance, segment, t} (segment i runs from points[i] to points[i + 1]). `polylines` is
// [{id, points}]. The viewer takes the first one no surface hides.
export function edgesNear(p, polylines, tolerance = EDGE_TOLERANCE_PX) {
  const found = [];
  for (const line of polylines) {
    const pts = line.points;
    let best = null;
    for (let i = 0; i + 1 < pts.length; i++) {
      if (!pts[i] || !pts[i + 1]) continue;
      const { distance, t } = segmentDistance(p, pts[i], pts[i + 1]);
      if (distance <= tolerance && (!best || distance < best.distance)) best = { id: line.id, distance, segment: i, t };
    }
    if (best) found.push(best);
  }
  return found.sort((a, b) => a.distance - b.distance);
}

// Whether an edge point `edgeDepth` away from the camera can be seen, when the first surface along the ray
// towards it is `surfaceDepth` away (null: nothing in the way). Edges lie on their faces, so a surface at
// the same depth (within `slack`) is the edge's own face, not something hiding it.
export function edgeVisible(edgeDepth, surfaceDepth, slack) {
  return surfaceDepth === null || surfaceDepth === undefined || edgeDepth <= surfaceDepth + slack;
}

// The selection after a click (or tap) on `id` (null: empty space): a plain click selects just that one
// and a click on nothing clears; with shift (`additive`) the id is added, or removed when already picked,
// and a shift-click on nothing keeps what is picked.
export function clickSelection(current, id, additive) {
  const now = current || [];
  if (!id) return additive ? now : [];
  if (additive) return now.includes(id) ? now.filter((x) => x !== id) : [...now, id];
  return [id];
}

// The selection after Enter (or a click) on a row of the keyboard list: the row is added or removed, as a
// shift-click would, so the list alone can pick several.
export function toggleSelection(current, id) {
  return clickSelection(current, id, true);
}

// The list's highlighted row after a key (index -1: none yet), or null for a key the list does not move on.
export function moveActive(count, index, key) {
  if (count <= 0) return null;
  const last = count - 1;
  switch (key) {
    case "ArrowDown": return index < 0 ? 0 : Math.min(index + 1, last);
    case "ArrowUp": return index < 0 ? last : Math.max(index - 1, 0);
    case "Home": return 0;
    case "End": return last;
    case "PageDown": return index < 0 ? Math.min(9, last) : Math.min(index + 10, last);
    case "PageUp": return index < 0 ? 0 : Math.max(index - 10, 0);
    default: return null;
  }
}

// The face or edge id a node of the tagged GLB belongs to: the nearest ancestor (itself included) named
// F<n> or E<n> (render_service/topology.py tags them so), or null. `node` needs only `name` and `parent`.
export function topologyId(node, stop) {
  for (let o = node; o && o !== stop; o = o.parent) {
    if (/^[FE]\d+$/.test(o.name || "")) return o.name;
  }
  return null;
}
