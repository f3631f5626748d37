// Chat3D's model viewer: a GLB from /api/files/{id} (same-origin, cookie auth) in react-three-fiber.
// Orbit/pan/zoom, fit, standard views, edges, a millimetre grid, a size overlay, point-to-point measuring
// (snaps to the picked triangle's corners), a section plane along X/Y/Z, and per-solid colours with a part
// list for multi-body results. Plain lights only: drei's Environment/Stage presets fetch HDR files from a
// CDN, which a self-hosted install cannot reach.
//
// A new URL (a parameter preview, another version) loads beside the shown model, which stays on screen until
// the new one is ready, and the camera stays where the user left it; it is fitted again only for a new
// `fitKey` (another chat), a view button, Fit, or a resize. `units` ("mm" or "in", the chat's units) is what
// the size overlay, the grid legend and the measure readout speak; the scene itself is always millimetres.
// Edges are feature edges: each part's triangles are merged and an edge is drawn only where the faces meet at
// more than EDGE_ANGLE degrees, so an imported STL (one B-rep face per triangle) shows its outline, not its
// triangulation.
//
// Coordinates: the GLB is in metres and Y-up (its root node turns build123d's Z-up by -90° about X), and
// the viewer scales it to the metrics' size in mm. Model millimetres are recovered from a world point by
// undoing the root's transform: scene space (x, z, -y) * k  ->  model (x, y, z) in mm.
import React, { Component, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Canvas, useThree } from "@react-three/fiber";
import { Grid, OrbitControls } from "@react-three/drei";
import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";

const VIEWS = {
  iso: { dir: [1, 0.8, 1], up: [0, 1, 0], label: "Iso" },
  top: { dir: [0, 1, 0], up: [0, 0, -1], label: "Top" },
  front: { dir: [0, 0, 1], up: [0, 1, 0], label: "Front" },
  right: { dir: [1, 0, 0], up: [0, 1, 0], label: "Right" },
};

class LoadBoundary extends Component {
  constructor(props) {
    super(props);
    this.state = { error: null };
  }
  static getDerivedStateFromError(error) {
    return { error };
  }
  componentDidCatch(error) {
    if (this.props.onError) this.props.onError(error);
  }
  render() {
    if (this.state.error) {
      return (
        <div role="alert" style={overlayStyle}>
          The model could not be loaded{this.state.error && this.state.error.message ? `: ${this.state.error.message}` : "."}
        </div>
      );
    }
    return this.props.children;
  }
}

const overlayStyle = {
  position: "absolute", inset: 0, display: "flex", alignItems: "center", justifyContent: "center",
  padding: "1em", textAlign: "center", color: "var(--gray-11)", fontSize: "14px", pointerEvents: "none",
};

const MM_PER = { mm: 1, in: 25.4 };
const EDGE_ANGLE = 25;

// A grid cell of 10^n display units, about a tenth of the part's largest side (at least 0.1 unit).
function gridStep(maxSize) {
  const step = Math.pow(10, Math.floor(Math.log10(Math.max(maxSize, 1) / 10)));
  return Math.max(step, 0.1);
}

function unitsOf(units) {
  return units === "in" ? "in" : "mm";
}

function num(v) {
  return String(Number(v.toPrecision(6)));
}

// One part's feature edges: its meshes' triangles in `root`'s local space, merged so that edges shared by
// two faces are compared by their angle (EdgesGeometry hashes vertex positions, so duplicated corners meet).
function featureEdges(meshes, root) {
  const toRoot = new THREE.Matrix4().copy(root.matrixWorld).invert();
  const chunks = [];
  let total = 0;
  const v = new THREE.Vector3();
  meshes.forEach((mesh) => {
    const pos = mesh.geometry.attributes.position;
    const index = mesh.geometry.index;
    const m = new THREE.Matrix4().multiplyMatrices(toRoot, mesh.matrixWorld);
    const count = index ? index.count : pos.count;
    const out = new Float32Array(count * 3);
    for (let i = 0; i < count; i++) {
      v.fromBufferAttribute(pos, index ? index.getX(i) : i).applyMatrix4(m);
      out[i * 3] = v.x; out[i * 3 + 1] = v.y; out[i * 3 + 2] = v.z;
    }
    chunks.push(out);
    total += out.length;
  });
  const all = new Float32Array(total);
  let offset = 0;
  chunks.forEach((c) => { all.set(c, offset); offset += c.length; });
  const merged = new THREE.BufferGeometry();
  merged.setAttribute("position", new THREE.BufferAttribute(all, 3));
  const edges = new THREE.EdgesGeometry(merged, EDGE_ANGLE);
  merged.dispose();
  return edges;
}

function fitCamera(camera, controls, box, viewName, invalidate) {
  const view = VIEWS[viewName] || VIEWS.iso;
  const center = box.getCenter(new THREE.Vector3());
  const radius = Math.max(box.getBoundingSphere(new THREE.Sphere()).radius, 1);
  const vfov = (camera.fov || 45) * (Math.PI / 180);
  const hfov = 2 * Math.atan(Math.tan(vfov / 2) * (camera.aspect || 1));
  const fov = Math.min(vfov, hfov);
  const distance = (radius / Math.sin(fov / 2)) * 1.2;
  const dir = new THREE.Vector3(...view.dir).normalize();
  camera.up.set(...view.up);
  camera.position.copy(center).addScaledVector(dir, distance);
  camera.near = distance / 100;
  camera.far = distance * 100;
  camera.updateProjectionMatrix();
  camera.lookAt(center);
  if (controls) {
    controls.target.copy(center);
    controls.update();
  }
  invalidate();
}

const PART_COLOURS = ["#7f9cc4", "#d9895b", "#6fb07f", "#c77dba", "#d4bd5a", "#5fb3b3", "#e07a7a", "#9a8fd6"];
const SECTION_AXES = { x: "X", y: "Y", z: "Z" };

// World (viewer) point -> model millimetres, through the root's inverse transform.
function toModelMm(root, mmPerUnit, world) {
  const local = world.clone().applyMatrix4(new THREE.Matrix4().copy(root.matrixWorld).invert());
  return [local.x * mmPerUnit, -local.z * mmPerUnit, local.y * mmPerUnit];
}

function toWorld(root, mmPerUnit, mm) {
  const local = new THREE.Vector3(mm[0], mm[2], -mm[1]).multiplyScalar(1 / mmPerUnit);
  return local.applyMatrix4(root.matrixWorld);
}

// The solid a mesh belongs to: its `solid_N` ancestor node (a glTF mesh may load as several primitives);
// a GLB without such nodes is one part.
// (three's loader names a multi-primitive mesh's pieces `solid_1_1`, `solid_1_2`, ... under the `solid_1` node).
function partKey(mesh, root) {
  let obj = mesh;
  let key = "body";
  while (obj && obj !== root) {
    if (/^solid_\d+$/.test(obj.name || "")) key = obj.name;
    obj = obj.parent;
  }
  return key;
}

function Model({ gltf, sizeKey, fitKey, units, edges, grid, view, nonce, dark, onInfo, measuring, onPick, marks, section, hidden }) {
  const { camera, controls, invalidate, size, gl } = useThree();
  const prepared = useMemo(() => {
    const root = gltf.scene.clone(true);
    const edgeMaterial = new THREE.LineBasicMaterial({ color: "#1b2433" });
    const lines = [];
    const meshes = [];
    root.updateMatrixWorld(true);
    root.traverse((obj) => {
      if (obj.isMesh) meshes.push(obj);
      else if (obj.isLine && /^E\d+$/.test(obj.name || "")) obj.visible = false;  // issue 27: B-rep edges, for picking only
      // The GLB's own topology tags (a line strip E<n> per B-rep edge, render_service/topology.py) are ids
      // for picking, not drawing: drawn they escaped the section plane, part hiding and the edges toggle,
      // and a measure click hit them. Kept in the graph, hidden and not hit by rays.
      if (obj.isLine || obj.isPoints) {
        obj.visible = false;
        obj.raycast = () => null;
      }
    });
    const keys = [];
    meshes.forEach((mesh) => {
      const key = partKey(mesh, root);
      if (!keys.includes(key)) keys.push(key);
    });
    const multi = keys.length > 1;
    const materials = {};
    const parts = keys.map((key, i) => {
      const color = multi ? PART_COLOURS[i % PART_COLOURS.length] : PART_COLOURS[0];
      materials[key] = new THREE.MeshStandardMaterial({
        color, metalness: 0.15, roughness: 0.55, side: THREE.DoubleSide,
        polygonOffset: true, polygonOffsetFactor: 1, polygonOffsetUnits: 1,
      });
      return { key, name: `Part ${i + 1}`, color, meshes: [], line: null };
    });
    meshes.forEach((mesh) => {
      const key = partKey(mesh, root);
      mesh.material = materials[key];
      parts.find((p) => p.key === key).meshes.push(mesh);
    });
    parts.forEach((part) => {
      const line = new THREE.LineSegments(featureEdges(part.meshes, root), edgeMaterial);
      line.raycast = () => null;
      root.add(line);
      part.line = line;
      lines.push(line);
    });
    // Scale to millimetres: the GLB may be in metres; the metrics know the true size.
    root.updateMatrixWorld(true);
    const raw = new THREE.Box3().setFromObject(root);
    const rawSize = raw.getSize(new THREE.Vector3());
    const maxRaw = Math.max(rawSize.x, rawSize.y, rawSize.z) || 1;
    let sizeMm = [];
    try { sizeMm = JSON.parse(sizeKey || "[]"); } catch (e) { sizeMm = []; }
    const maxMm = sizeMm.length === 3 ? Math.max(...sizeMm) : maxRaw;
    const scale = maxMm > 0 ? maxMm / maxRaw : 1;
    const holder = new THREE.Group();
    holder.add(root);
    root.scale.multiplyScalar(scale);
    root.updateMatrixWorld(true);
    const scaled = new THREE.Box3().setFromObject(root);
    const c = scaled.getCenter(new THREE.Vector3());
    root.position.set(root.position.x - c.x, root.position.y - scaled.min.y, root.position.z - c.z);
    holder.updateMatrixWorld(true);
    const box = new THREE.Box3().setFromObject(holder);
    return { holder, root, lines, box, maxMm, mmPerUnit: scale, edgeMaterial, parts, materials: Object.values(materials) };
  }, [gltf, sizeKey]);

  useEffect(() => {
    prepared.edgeMaterial.color.set(dark ? "#0b1220" : "#1b2433");
    prepared.parts.forEach((p) => {
      const shown = !(hidden || []).includes(p.key);
      p.meshes.forEach((m) => { m.visible = shown; });
      p.line.visible = edges && shown;
    });
    invalidate();
  }, [edges, dark, hidden, prepared, invalidate]);

  // Free the GPU buffers of a model that has been replaced.
  useEffect(() => () => {
    prepared.lines.forEach((l) => l.geometry.dispose());
    prepared.materials.forEach((m) => m.dispose());
    prepared.edgeMaterial.dispose();
  }, [prepared]);

  // Section: keep what lies below `pos` (0..1 of the extent) along a model axis; three.js clipping planes.
  useEffect(() => {
    gl.localClippingEnabled = true;
    let planes = [];
    if (section && section.axis) {
      const b = prepared.box;
      const axis = section.axis;
      const t = Math.min(Math.max(section.pos, 0), 1);
      // The plane sweeps from just below the part (0: nothing left, not even the face lying on the boundary,
      // which would otherwise stay as a sliver) to its far side (1: all of it).
      const eps = 1e-3 * Math.max(b.max.x - b.min.x, b.max.y - b.min.y, b.max.z - b.min.z);
      const at = (lo, hi) => lo - eps * (1 - t) + t * (hi - lo);
      // model X -> world +x, model Y -> world -z, model Z -> world +y
      if (axis === "x") planes = [new THREE.Plane(new THREE.Vector3(-1, 0, 0), at(b.min.x, b.max.x))];
      if (axis === "z") planes = [new THREE.Plane(new THREE.Vector3(0, -1, 0), at(b.min.y, b.max.y))];
      if (axis === "y") planes = [new THREE.Plane(new THREE.Vector3(0, 0, 1), at(-b.max.z, -b.min.z))];
    }
    [...prepared.materials, prepared.edgeMaterial].forEach((m) => { m.clippingPlanes = planes; m.needsUpdate = true; });
    invalidate();
  }, [section, prepared, gl, invalidate]);

  const project = useCallback((world) => {
    const v = world.clone().project(camera);
    return { x: ((v.x + 1) / 2) * size.width, y: ((1 - v.y) / 2) * size.height };
  }, [camera, size.width, size.height]);

  // A small hook for tests and scripts: where a model point (mm) is on the canvas, in CSS pixels; and
  // `tools()`, a read-only snapshot of what the viewer tools have set on the scene: the section's clipping
  // planes (world normal + constant, as three applies them), each part's colour and visibility, whether any
  // edge lines are drawn and how many segments they have, the camera's position and target, the grid cell
  // (world mm), and how many frames have been rendered (to wait for a redraw).
  useEffect(() => {
    window.chat3dViewer = {
      screenOf: (mm) => project(toWorld(prepared.root, prepared.mmPerUnit, mm)),
      modelOf: (world) => toModelMm(prepared.root, prepared.mmPerUnit, new THREE.Vector3(...world)),
      tools: () => ({
        clipping: (prepared.materials[0].clippingPlanes || []).map((p) => ({ normal: p.normal.toArray(), constant: p.constant })),
        parts: prepared.parts.map((p) => ({ key: p.key, name: p.name, color: p.color, visible: p.meshes.every((m) => m.visible) })),
        edges: prepared.lines.some((l) => l.visible),
        edgeSegments: prepared.lines.reduce((n, l) => n + l.geometry.attributes.position.count / 2, 0),
        camera: camera.position.toArray(),
        target: controls ? controls.target.toArray() : null,
        gridCellMm: gridStep(prepared.maxMm / MM_PER[unitsOf(units)]) * MM_PER[unitsOf(units)],
        frames: gl.info.render.frame,
      }),
    };
    return () => { if (window.chat3dViewer && window.chat3dViewer.screenOf) delete window.chat3dViewer; };
  }, [prepared, project, gl, camera, controls, units]);

  const handleClick = useCallback((event) => {
    if (!measuring || !onPick) return;
    if (event.delta > 4) return; // the end of an orbit drag, not a pick
    // three's raycaster also hits hidden parts and what the section cuts away: skip those hits without
    // stopping propagation, so the handler runs again with the next (farther) hit under the pointer.
    for (let o = event.object; o; o = o.parent) if (!o.visible) return;
    if ((prepared.materials[0].clippingPlanes || []).some((pl) => pl.distanceToPoint(event.point) < -1e-4 * prepared.maxMm)) return;
    event.stopPropagation();
    let point = event.point.clone();
    // Snap to the nearest corner of the hit triangle when it is within 14 px of the click on screen.
    if (event.face && event.object && event.object.geometry) {
      const pos = event.object.geometry.attributes.position;
      const clicked = project(point);
      let best = null;
      [event.face.a, event.face.b, event.face.c].forEach((i) => {
        const v = new THREE.Vector3().fromBufferAttribute(pos, i).applyMatrix4(event.object.matrixWorld);
        const sp = project(v);
        const d = Math.hypot(sp.x - clicked.x, sp.y - clicked.y);
        if (d < 14 && (!best || d < best.d)) best = { d, v };
      });
      if (best) point = best.v;
    }
    onPick({ world: [point.x, point.y, point.z], mm: toModelMm(prepared.root, prepared.mmPerUnit, point) });
  }, [measuring, onPick, project, prepared]);

  // Fit on the first model of a `fitKey` (measured at a real size: a pane hidden at mount is 0 × 0), a view
  // button and Fit. A new model of the same key (a parameter preview) and a resize (the panel below growing
  // a row) keep the camera where the user left it.
  const fitted = useRef({});
  useEffect(() => {
    if (!size.width || !size.height) return;
    camera.aspect = size.width / size.height;
    const f = fitted.current;
    if (f.key !== fitKey || f.view !== view || f.nonce !== nonce || f.controls !== controls) {
      fitCamera(camera, controls, prepared.box, view, invalidate);
      fitted.current = { key: fitKey, view, nonce, controls };
    } else {
      camera.updateProjectionMatrix();
      invalidate();
    }
  }, [view, nonce, fitKey, prepared, controls, camera, invalidate, size.width, size.height]);

  const unit = unitsOf(units);
  const cell = gridStep(prepared.maxMm / MM_PER[unit]);  // in display units
  useEffect(() => {
    if (onInfo) onInfo({
      step: cell,
      parts: prepared.parts.length > 1 ? prepared.parts.map((p) => ({ key: p.key, name: p.name, color: p.color })) : [],
    });
  }, [prepared, onInfo, cell]);

  const step = cell * MM_PER[unit];  // world millimetres
  const extent = Math.max(prepared.maxMm * 3, step * 20);
  const dot = Math.max(prepared.maxMm * 0.008, 0.2);
  return (
    <group>
      <primitive object={prepared.holder} onClick={handleClick} />
      {(marks || []).map((m, i) => (
        <mesh key={i} position={m.world} renderOrder={10}>
          <sphereGeometry args={[dot, 16, 12]} />
          <meshBasicMaterial color="#e5484d" depthTest={false} />
        </mesh>
      ))}
      {marks && marks.length === 2 ? (
        <line renderOrder={10}>
          <bufferGeometry attach="geometry">
            <bufferAttribute attach="attributes-position" args={[new Float32Array([...marks[0].world, ...marks[1].world]), 3]} />
          </bufferGeometry>
          <lineBasicMaterial attach="material" color="#e5484d" depthTest={false} />
        </line>
      ) : null}
      {grid ? (
        <Grid
          position={[0, -0.01, 0]}
          args={[extent, extent]}
          cellSize={step}
          sectionSize={step * 10}
          cellThickness={0.6}
          sectionThickness={1.1}
          cellColor={dark ? "#3a4252" : "#c3c9d4"}
          sectionColor={dark ? "#5c6b84" : "#8391a7"}
          fadeDistance={extent * 1.5}
          fadeStrength={1}
          infiniteGrid={false}
        />
      ) : null}
    </group>
  );
}

const buttonStyle = (active) => ({
  font: "inherit", fontSize: "12px", padding: "3px 8px", borderRadius: "6px", cursor: "pointer",
  border: "1px solid var(--gray-a6)", background: active ? "var(--accent-a4)" : "var(--color-panel-solid, white)",
  color: "var(--gray-12)",
});

const panelStyle = {
  position: "absolute", zIndex: 2, fontSize: "12px", color: "var(--gray-12)", background: "var(--color-panel-solid, white)",
  border: "1px solid var(--gray-a6)", borderRadius: "6px", padding: "4px 8px",
};

// A length in the display unit: 2 decimals for millimetres, 3 for inches.
function fmt(mm, unit) {
  const v = mm / MM_PER[unit];
  const digits = unit === "in" ? 3 : 2;
  return (Math.abs(v) < 0.5 * Math.pow(10, -digits) ? 0 : v).toFixed(digits);
}

// Loads `url` beside whatever is shown: the shown model (with its size and fit key) changes only when the new
// one has loaded, so a preview never blanks the canvas. A failed load keeps the old model and reports it.
function useShownModel(url, sizeKey, fitKey) {
  const [shown, setShown] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!url) return undefined;
    let cancelled = false;
    setError(null);
    new GLTFLoader().load(
      url,
      (gltf) => { if (!cancelled) setShown({ url, gltf, sizeKey, fitKey }); },
      undefined,
      (err) => { if (!cancelled) setError({ url, message: (err && err.message) || String(err) }); },
    );
    return () => { cancelled = true; };
  }, [url, sizeKey, fitKey]);
  return [shown, error];
}

export function ModelViewer({ url, sizeMm, dark, units, fitKey }) {
  const [view, setView] = useState("iso");
  const [nonce, setNonce] = useState(0);
  const [edges, setEdges] = useState(true);
  const [grid, setGrid] = useState(true);
  const [info, setInfo] = useState(null);
  const [crashed, setCrashed] = useState(false);
  const [measuring, setMeasuring] = useState(false);
  const [marks, setMarks] = useState([]);
  const [section, setSection] = useState({ axis: null, pos: 0.5 });
  const [hidden, setHidden] = useState([]);
  const sizeKey = JSON.stringify(sizeMm || []);
  const unit = unitsOf(units);
  const key = fitKey || "";
  const [shown, loadError] = useShownModel(url, sizeKey, key);
  const choose = (name) => { setView(name); setNonce((n) => n + 1); };
  const onPick = useCallback((p) => setMarks((m) => (m.length >= 2 ? [p] : [...m, p])), []);
  const shownUrl = shown ? shown.url : "";
  useEffect(() => { setMarks([]); }, [shownUrl]);
  useEffect(() => { setHidden([]); }, [shown && shown.fitKey]);
  if (!url) return null;
  let shownSize = [];
  try { shownSize = JSON.parse(shown ? shown.sizeKey : "[]"); } catch (e) { shownSize = []; }
  const dims = shownSize.length === 3
    ? shownSize.map((v) => (Number(v) / MM_PER[unit]).toFixed(unit === "in" ? 2 : 1)).join(" × ") + ` ${unit}`
    : "";
  let readout = null;
  if (marks.length === 2) {
    const d = [0, 1, 2].map((i) => marks[1].mm[i] - marks[0].mm[i]);
    readout = { dist: Math.hypot(...d), d };
  }
  const failed = crashed || !!(loadError && loadError.url === url);
  const status = failed ? "error" : !info || !shown ? "loading" : shown.url !== url ? "updating" : "ready";
  return (
    <div style={{ position: "relative", width: "100%", height: "100%", minHeight: "240px" }}
         data-status={status}>
      <div role="toolbar" aria-label="Viewer controls"
           style={{ position: "absolute", top: 8, left: 8, right: 8, zIndex: 2, display: "flex", flexWrap: "wrap", gap: "4px" }}>
        <button type="button" style={buttonStyle(false)} onClick={() => choose(view)} aria-label="Fit model to view">Fit</button>
        {Object.entries(VIEWS).map(([name, v]) => (
          <button key={name} type="button" style={buttonStyle(view === name)} aria-pressed={view === name}
                  onClick={() => choose(name)} aria-label={`${v.label} view`}>{v.label}</button>
        ))}
        <span style={{ flex: 1 }} />
        <button type="button" style={buttonStyle(measuring)} aria-pressed={measuring}
                onClick={() => { setMeasuring(!measuring); setMarks([]); }}>Measure</button>
        <button type="button" style={buttonStyle(!!section.axis)} aria-pressed={!!section.axis}
                onClick={() => setSection((s) => ({ ...s, axis: s.axis ? null : "x" }))}>Section</button>
        <button type="button" style={buttonStyle(edges)} aria-pressed={edges} onClick={() => setEdges(!edges)}>Edges</button>
        <button type="button" style={buttonStyle(grid)} aria-pressed={grid} onClick={() => setGrid(!grid)}>Grid</button>
      </div>
      {section.axis ? (
        <div style={{ ...panelStyle, top: 40, right: 8, display: "flex", gap: "6px", alignItems: "center" }}
             role="group" aria-label="Section plane">
          {Object.entries(SECTION_AXES).map(([key, label]) => (
            <button key={key} type="button" style={buttonStyle(section.axis === key)} aria-pressed={section.axis === key}
                    aria-label={`Section along ${label}`} onClick={() => setSection((s) => ({ ...s, axis: key }))}>{label}</button>
          ))}
          <input type="range" min="0" max="1" step="0.01" value={section.pos} aria-label="Section position"
                 onChange={(e) => setSection((s) => ({ ...s, pos: Number(e.target.value) }))} style={{ width: "110px" }} />
        </div>
      ) : null}
      {measuring ? (
        <div style={{ ...panelStyle, top: 40, left: 8 }} role="status" aria-live="polite" data-testid="measure-readout">
          {readout ? (
            <span>
              <b>{fmt(readout.dist, unit)} {unit}</b>{" "}
              <span style={{ color: "var(--gray-11)" }}>
                ΔX {fmt(readout.d[0], unit)} · ΔY {fmt(readout.d[1], unit)} · ΔZ {fmt(readout.d[2], unit)}
              </span>
            </span>
          ) : marks.length === 1 ? "Pick the second point" : "Pick two points on the model (corners snap)"}
        </div>
      ) : null}
      {info && info.parts && info.parts.length > 1 ? (
        <div style={{ ...panelStyle, bottom: 34, left: 8, maxHeight: "45%", overflowY: "auto" }} role="group"
             aria-label="Parts" data-testid="part-list">
          {info.parts.map((p) => (
            <label key={p.key} style={{ display: "flex", gap: "6px", alignItems: "center", cursor: "pointer" }}>
              <input type="checkbox" checked={!hidden.includes(p.key)} aria-label={`Show ${p.name}`}
                     onChange={() => setHidden((h) => (h.includes(p.key) ? h.filter((k) => k !== p.key) : [...h, p.key]))} />
              <span style={{ width: 10, height: 10, borderRadius: 2, background: p.color, display: "inline-block" }} />
              {p.name}
            </label>
          ))}
        </div>
      ) : null}
      <LoadBoundary key={key} onError={() => setCrashed(true)}>
        <Canvas
          frameloop="demand"
          dpr={[1, 2]}
          camera={{ fov: 40, position: [120, 100, 120], near: 0.1, far: 10000 }}
          gl={{ antialias: true, alpha: true, preserveDrawingBuffer: true, localClippingEnabled: true }}
          style={{ position: "absolute", inset: 0, cursor: measuring ? "crosshair" : "auto" }}
          aria-label="3D model preview"
        >
          <ambientLight intensity={0.55} />
          <hemisphereLight args={["#ffffff", "#66707f", 0.6]} />
          <directionalLight position={[60, 120, 80]} intensity={1.3} />
          <directionalLight position={[-80, 40, -60]} intensity={0.5} />
          {shown ? (
            <Model gltf={shown.gltf} sizeKey={shown.sizeKey} fitKey={shown.fitKey} units={unit} edges={edges} grid={grid}
                   view={view} nonce={nonce} dark={!!dark} onInfo={setInfo} measuring={measuring} onPick={onPick}
                   marks={marks} section={section} hidden={hidden} />
          ) : null}
          <OrbitControls makeDefault enableDamping={false} />
        </Canvas>
      </LoadBoundary>
      {failed && !crashed ? (
        <div role="alert" style={overlayStyle}>The model could not be loaded: {loadError.message}</div>
      ) : null}
      {(info && shown) || failed ? null : (
        <div role="status" style={overlayStyle}>Loading model…</div>
      )}
      {status === "updating" ? (
        <div role="status" style={{ ...panelStyle, bottom: 34, right: 8 }} data-testid="viewer-updating">Updating…</div>
      ) : null}
      {grid && info ? (
        <div style={{ position: "absolute", left: 8, bottom: 8, zIndex: 2, fontSize: "11px", color: "var(--gray-11)",
                      background: "var(--gray-a2)", padding: "2px 6px", borderRadius: "4px" }}>
          Grid: {num(info.step)} {unit} cells, {num(info.step * 10)} {unit} sections
        </div>
      ) : null}
      {info && dims ? (
        <div style={{ position: "absolute", right: 8, bottom: 8, zIndex: 2, fontSize: "11px", color: "var(--gray-12)",
                      background: "var(--gray-a3)", padding: "2px 6px", borderRadius: "4px" }} data-testid="dims-overlay">
          {dims}
        </div>
      ) : null}
    </div>
  );
}

export default ModelViewer;
