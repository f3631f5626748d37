// The viewer's plain math (assets/chat3d_viewer.jsx): units, the grid step, the size overlay and measure
// readout, the section plane, the camera's fit distance and the GLB -> millimetre mapping. Free of three.js
// and React so it can be tested on its own (tests/frontend/test_viewer_math.py runs it in Node).
// Vectors are plain [x, y, z] arrays; a box is {min: [x, y, z], max: [x, y, z]}.

// Millimetres per display unit; the scene itself is always millimetres.
export const MM_PER = { mm: 1, in: 25.4 };

// The chat's units as the viewer speaks them: "in" or else "mm".
export function unitsOf(units) {
  return units === "in" ? "in" : "mm";
}

// A grid cell of 10^n display units, about a tenth of the part's largest side (at least 0.1 unit).
export function gridStep(maxSize) {
  const step = Math.pow(10, Math.floor(Math.log10(Math.max(maxSize, 1) / 10)));
  return Math.max(step, 0.1);
}

// A number for the grid legend: at most six significant digits, no trailing zeros (0.1, not 0.10000000001).
export function num(v) {
  return String(Number(v.toPrecision(6)));
}

// A length (mm) in the display unit: 2 decimals for millimetres, 3 for inches; a rounding-size value is 0, not -0.
export function fmt(mm, unit) {
  const v = mm / MM_PER[unit];
  const digits = unit === "in" ? 3 : 2;
  return (Math.abs(v) < 0.5 * Math.pow(10, -digits) ? 0 : v).toFixed(digits);
}

// The size overlay: "80.0 × 50.0 × 5.0 mm" (1 decimal for mm, 2 for inches); "" unless three sizes are known.
export function dimsText(sizeMm, unit) {
  if (!Array.isArray(sizeMm) || sizeMm.length !== 3) return "";
  return sizeMm.map((v) => (Number(v) / MM_PER[unit]).toFixed(unit === "in" ? 2 : 1)).join(" × ") + ` ${unit}`;
}

// Two measured points (model mm) -> their distance and the per-axis differences (second minus first).
export function measure(a, b) {
  const d = [0, 1, 2].map((i) => b[i] - a[i]);
  return { dist: Math.hypot(...d), d };
}

// The section's clipping plane in world space, as three.js applies it (normal · p + constant >= 0 is kept):
// what lies below `pos` (0..1 of the extent, clamped) along a model axis stays. The plane sweeps from just
// below the part (0: nothing left, not even the face lying on the boundary, which would otherwise stay as a
// sliver) to its far side (1: all of it). Model X is world +x, model Y world -z, model Z world +y.
// No axis (or an unknown one): null.
export function sectionPlane(box, axis, pos) {
  const t = Math.min(Math.max(pos, 0), 1);
  const [lo, hi] = [box.min, box.max];
  const eps = 1e-3 * Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]);
  const at = (a, b) => a - eps * (1 - t) + t * (b - a);
  if (axis === "x") return { normal: [-1, 0, 0], constant: at(lo[0], hi[0]) };
  if (axis === "z") return { normal: [0, -1, 0], constant: at(lo[1], hi[1]) };
  if (axis === "y") return { normal: [0, 0, 1], constant: at(-hi[2], -lo[2]) };
  return null;
}

// How far from a bounding sphere's centre the camera sits so the sphere fits both the vertical and the
// horizontal field of view (degrees; aspect = width / height), with a 20 % margin.
export function fitDistance(radius, fovDeg, aspect) {
  const vfov = (fovDeg || 45) * (Math.PI / 180);
  const hfov = 2 * Math.atan(Math.tan(vfov / 2) * (aspect || 1));
  const fov = Math.min(vfov, hfov);
  return (Math.max(radius, 1) / Math.sin(fov / 2)) * 1.2;
}

// The factor that scales the GLB (metres or whatever it holds) to millimetres: the metrics' largest size
// over the GLB's largest extent. Without three sizes the GLB is taken as it is.
export function mmScale(sizeMm, rawSize) {
  const maxRaw = Math.max(...rawSize) || 1;
  const maxMm = Array.isArray(sizeMm) && sizeMm.length === 3 ? Math.max(...sizeMm) : maxRaw;
  return { scale: maxMm > 0 ? maxMm / maxRaw : 1, maxMm };
}

// The GLB root's local space (Y-up, its root node turned build123d's Z-up by -90° about X) to model mm
// and back: local (x, y, z) * k -> model (x, -z, y).
export function localToModelMm(local, k) {
  return [local[0] * k, -local[2] * k, local[1] * k];
}

export function modelMmToLocal(mm, k) {
  return [mm[0] / k, mm[2] / k, -mm[1] / k];
}
