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
import {
  DRAG_PX, EDGE_TOLERANCE_PX, clickSelection, edgeVisible, edgesNear, moveActive, toggleSelection, topologyId,
} from "./chat3d_picking.js";
import {
  MM_PER, dimsText, fitDistance, fmt, gridStep, localToModelMm, measure, mmScale, modelMmToLocal, num, sectionPlane,
  unitsOf,
} from "./chat3d_viewer_math.js";

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

const EDGE_ANGLE = 25;

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

// Disposes every geometry, material and texture under `root` (three.js frees GPU objects only when told).
function disposeTree(root) {
  root.traverse((obj) => {
    if (obj.geometry) obj.geometry.dispose();
    const materials = Array.isArray(obj.material) ? obj.material : obj.material ? [obj.material] : [];
    materials.forEach((material) => {
      Object.values(material).forEach((value) => { if (value && value.isTexture) value.dispose(); });
      material.dispose();
    });
  });
}

function fitCamera(camera, controls, box, viewName, invalidate) {
  const view = VIEWS[viewName] || VIEWS.iso;
  const center = box.getCenter(new THREE.Vector3());
  const distance = fitDistance(box.getBoundingSphere(new THREE.Sphere()).radius, camera.fov, camera.aspect);
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

// Picking (issue 27): a hovered (or keyboard-highlighted) face or edge, and the picked ones.
const HOVER_COLOUR = "#ffd60a";
const PICKED_COLOUR = "#ff3d9a";

const PART_COLOURS = ["#7f9cc4", "#d9895b", "#6fb07f", "#c77dba", "#d4bd5a", "#5fb3b3", "#e07a7a", "#9a8fd6"];
const SECTION_AXES = { x: "X", y: "Y", z: "Z" };

// World (viewer) point -> model millimetres, through the root's inverse transform.
function toModelMm(root, mmPerUnit, world) {
  const local = world.clone().applyMatrix4(new THREE.Matrix4().copy(root.matrixWorld).invert());
  return localToModelMm(local.toArray(), mmPerUnit);
}

function toWorld(root, mmPerUnit, mm) {
  return new THREE.Vector3(...modelMmToLocal(mm, mmPerUnit)).applyMatrix4(root.matrixWorld);
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

function Model({ gltf, sizeKey, fitKey, units, edges, grid, view, nonce, dark, onInfo, measuring, onPick, marks, section, hidden,
                 topology, pickedIds, hover, onHover, onPickIds, testHook }) {
  const { camera, controls, invalidate, size, gl } = useThree();
  const prepared = useMemo(() => {
    const root = gltf.scene.clone(true);
    const edgeMaterial = new THREE.LineBasicMaterial({ color: "#1b2433" });
    const lines = [];
    const meshes = [];
    const edgeLines = {};  // E<n> -> its hidden line strip, drawn only while hovered or picked
    root.updateMatrixWorld(true);
    root.traverse((obj) => {
      if (obj.isMesh) meshes.push(obj);
      if (obj.isLine && /^E\d+$/.test(obj.name || "")) edgeLines[obj.name] = obj;
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
    const faces = {};  // F<n> -> its meshes (a face node of the tagged GLB may load as several primitives)
    meshes.forEach((mesh) => {
      const key = partKey(mesh, root);
      mesh.material = materials[key];
      mesh.userData.baseMaterial = mesh.material;
      parts.find((p) => p.key === key).meshes.push(mesh);
      const fid = topologyId(mesh, root);
      if (fid && fid[0] === "F") (faces[fid] = faces[fid] || []).push(mesh);
    });
    const surface = { metalness: 0.15, roughness: 0.55, side: THREE.DoubleSide, polygonOffset: true,
                      polygonOffsetFactor: 1, polygonOffsetUnits: 1 };
    const pickMaterials = {
      faceHover: new THREE.MeshStandardMaterial({ color: HOVER_COLOUR, ...surface }),
      facePicked: new THREE.MeshStandardMaterial({ color: PICKED_COLOUR, ...surface }),
      edgeHover: new THREE.LineBasicMaterial({ color: HOVER_COLOUR }),
      edgePicked: new THREE.LineBasicMaterial({ color: PICKED_COLOUR }),
    };
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
    let sizeMm = [];
    try { sizeMm = JSON.parse(sizeKey || "[]"); } catch (e) { sizeMm = []; }
    const { scale, maxMm } = mmScale(sizeMm, rawSize.toArray());
    const holder = new THREE.Group();
    holder.add(root);
    root.scale.multiplyScalar(scale);
    root.updateMatrixWorld(true);
    const scaled = new THREE.Box3().setFromObject(root);
    const c = scaled.getCenter(new THREE.Vector3());
    root.position.set(root.position.x - c.x, root.position.y - scaled.min.y, root.position.z - c.z);
    holder.updateMatrixWorld(true);
    const box = new THREE.Box3().setFromObject(holder);
    // Each edge's polyline in world space, for screen-space picking (the root does not move after this).
    const edgePoints = {};
    Object.entries(edgeLines).forEach(([id, line]) => {
      const pos = line.geometry.attributes.position;
      edgePoints[id] = Array.from({ length: pos.count }, (_, i) => new THREE.Vector3().fromBufferAttribute(pos, i).applyMatrix4(line.matrixWorld));
    });
    return { holder, root, lines, box, maxMm, mmPerUnit: scale, edgeMaterial, parts, materials: Object.values(materials),
             meshes, faces, edgeLines, edgePoints, pickMaterials };
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

  // Free the GPU objects of a model that has been replaced: its GLB's geometries (meshes and B-rep edge lines,
  // shared by the clone), materials and textures, and what the viewer made for it (feature edge lines, part,
  // edge and pick materials).
  useEffect(() => () => {
    disposeTree(gltf.scene);
    disposeTree(prepared.holder);
    prepared.materials.forEach((m) => m.dispose());
    Object.values(prepared.pickMaterials).forEach((m) => m.dispose());
    prepared.edgeMaterial.dispose();
  }, [gltf, prepared]);

  // Section: keep what lies below `pos` (0..1 of the extent) along a model axis; three.js clipping planes.
  useEffect(() => {
    gl.localClippingEnabled = true;
    const b = prepared.box;
    const plane = section && section.axis
      ? sectionPlane({ min: b.min.toArray(), max: b.max.toArray() }, section.axis, section.pos) : null;
    const planes = plane ? [new THREE.Plane(new THREE.Vector3(...plane.normal), plane.constant)] : [];
    [...prepared.materials, prepared.edgeMaterial, ...Object.values(prepared.pickMaterials)]
      .forEach((m) => { m.clippingPlanes = planes; m.needsUpdate = true; });
    invalidate();
  }, [section, prepared, gl, invalidate]);

  const project = useCallback((world) => {
    const v = world.clone().project(camera);
    return { x: ((v.x + 1) / 2) * size.width, y: ((1 - v.y) / 2) * size.height };
  }, [camera, size.width, size.height]);

  // --- Picking (issue 27) -------------------------------------------------------------------------------
  // Faces are hit by a ray from the pointer; an edge wins when its drawn line passes within
  // EDGE_TOLERANCE_PX of the pointer and no surface hides it. Hidden parts and what the section cuts away
  // cannot be picked. `topology` (the version's rows, fetched with the GLB) turns picking on.
  const rows = topology ? topology.byId : null;
  const partShown = useCallback((key) => !(hidden || []).includes(key), [hidden]);
  const edgeShown = useCallback((id) => {
    const row = rows && rows.get(id);
    return !!row && partShown(`solid_${row.solid || 1}`);
  }, [rows, partShown]);
  const clippedAway = useCallback((point) => (prepared.materials[0].clippingPlanes || [])
    .some((pl) => pl.distanceToPoint(point) < -1e-4 * prepared.maxMm), [prepared]);
  const raycaster = useMemo(() => new THREE.Raycaster(), []);
  // The nearest visible face along the raycaster's ray that is not cut away: {id, distance}, or null.
  const firstFace = useCallback(() => {
    for (const hit of raycaster.intersectObjects(prepared.meshes, false)) {
      let shown = true;
      for (let o = hit.object; o; o = o.parent) if (!o.visible) shown = false;
      if (!shown || clippedAway(hit.point)) continue;
      return { id: topologyId(hit.object, prepared.root), distance: hit.distance };
    }
    return null;
  }, [raycaster, prepared, clippedAway]);
  const pickAt = useCallback((x, y) => {
    if (!rows || !size.width || !size.height) return null;
    raycaster.setFromCamera(new THREE.Vector2((x / size.width) * 2 - 1, 1 - (y / size.height) * 2), camera);
    const face = firstFace();
    const polylines = [];
    Object.entries(prepared.edgePoints).forEach(([id, pts]) => {
      if (!edgeShown(id)) return;
      polylines.push({ id, points: pts.map((v) => {
        const ndc = v.clone().project(camera);
        return ndc.z > 1 ? null : [((ndc.x + 1) / 2) * size.width, ((1 - ndc.y) / 2) * size.height];
      }) });
    });
    for (const near of edgesNear([x, y], polylines, EDGE_TOLERANCE_PX)) {
      const pts = prepared.edgePoints[near.id];
      const at = pts[near.segment].clone().lerp(pts[near.segment + 1], near.t);
      if (clippedAway(at)) continue;
      const toward = at.clone().sub(camera.position);
      const depth = toward.length();
      raycaster.set(camera.position, toward.normalize());
      const blocker = firstFace();
      if (edgeVisible(depth, blocker ? blocker.distance : null, 0.01 * prepared.maxMm)) return near.id;
    }
    return face && rows.has(face.id) ? face.id : null;
  }, [rows, size.width, size.height, raycaster, camera, firstFace, prepared, edgeShown, clippedAway]);

  // Paint: picked faces/edges in PICKED_COLOUR, the hovered (or keyboard-highlighted) one in HOVER_COLOUR.
  useEffect(() => {
    const picked = new Set(rows ? pickedIds || [] : []);
    const lit = rows ? hover : null;
    Object.entries(prepared.faces).forEach(([id, faceMeshes]) => {
      const m = picked.has(id) ? prepared.pickMaterials.facePicked : id === lit ? prepared.pickMaterials.faceHover : null;
      faceMeshes.forEach((mesh) => { mesh.material = m || mesh.userData.baseMaterial; });
    });
    Object.entries(prepared.edgeLines).forEach(([id, line]) => {
      const on = (picked.has(id) || id === lit) && edgeShown(id);
      line.visible = on;
      if (on) line.material = picked.has(id) ? prepared.pickMaterials.edgePicked : prepared.pickMaterials.edgeHover;
    });
    invalidate();
  }, [prepared, rows, pickedIds, hover, edgeShown, invalidate]);

  // Pointer: hover with a mouse (one pick per animation frame), click or tap to pick, shift adds.
  const latest = useRef({});
  latest.current = { on: !!rows, pickAt, measuring, pickedIds, onHover, onPickIds, hover };
  useEffect(() => {
    const el = gl.domElement;
    let frame = 0;
    let down = null;
    const move = (e) => {
      const l = latest.current;
      if (!l.on || e.pointerType === "touch" || e.buttons || l.measuring || !l.onHover) return;
      const r = el.getBoundingClientRect();
      const x = e.clientX - r.left;
      const y = e.clientY - r.top;
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const id = latest.current.pickAt(x, y);
        if (id !== latest.current.hover) latest.current.onHover(id);
      });
    };
    const leave = () => {
      cancelAnimationFrame(frame);
      if (latest.current.hover && latest.current.onHover) latest.current.onHover(null);
    };
    const press = (e) => { down = [e.clientX, e.clientY]; };
    const click = (e) => {
      const l = latest.current;
      if (!l.on || l.measuring || !l.onPickIds || e.button) return;
      if (down && Math.hypot(e.clientX - down[0], e.clientY - down[1]) > DRAG_PX) return;  // an orbit drag
      const r = el.getBoundingClientRect();
      const id = l.pickAt(e.clientX - r.left, e.clientY - r.top);
      l.onPickIds(clickSelection(l.pickedIds || [], id, e.shiftKey));
    };
    el.addEventListener("pointermove", move);
    el.addEventListener("pointerleave", leave);
    el.addEventListener("pointerdown", press);
    el.addEventListener("click", click);
    return () => {
      cancelAnimationFrame(frame);
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerleave", leave);
      el.removeEventListener("pointerdown", press);
      el.removeEventListener("click", click);
    };
  }, [gl]);

  // A small hook for tests and scripts, in development and test builds only (`testHook`): where a model
  // point (mm) is on the canvas, in CSS pixels; and `tools()`, a read-only snapshot of what the viewer tools
  // have set on the scene: the section's clipping planes (world normal + constant, as three applies them),
  // each part's colour and visibility, whether any edge lines are drawn and how many segments they have, the
  // camera's position and target, the grid cell (world mm), how many frames have been rendered (to wait for
  // a redraw) and the renderer's GPU memory counts.
  useEffect(() => {
    if (!testHook) return undefined;
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
        // What the renderer holds on the GPU (three's count of live geometries and textures).
        memory: { ...gl.info.memory },
        // Picking: whether it is on, what is highlighted and picked, and what is painted (ids whose meshes
        // wear the hover/picked colour, edge lines drawn), as the scene has it.
        picking: {
          on: !!rows,
          hover: hover || null,
          picked: pickedIds || [],
          paintedFaces: Object.entries(prepared.faces)
            .filter(([, ms]) => ms.some((m) => m.material !== m.userData.baseMaterial)).map(([id]) => id),
          drawnEdges: Object.entries(prepared.edgeLines).filter(([, l]) => l.visible).map(([id]) => id),
        },
      }),
    };
    return () => { if (window.chat3dViewer && window.chat3dViewer.screenOf) delete window.chat3dViewer; };
  }, [testHook, prepared, project, gl, camera, controls, units, rows, hover, pickedIds]);

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
  pointerEvents: "auto", font: "inherit", fontSize: "12px", padding: "3px 8px", borderRadius: "6px", cursor: "pointer",
  border: "1px solid var(--gray-a6)", background: active ? "var(--accent-a4)" : "var(--color-panel-solid, white)",
  color: "var(--gray-12)",
});

const panelStyle = {
  position: "absolute", zIndex: 2, fontSize: "12px", color: "var(--gray-12)", background: "var(--color-panel-solid, white)",
  border: "1px solid var(--gray-a6)", borderRadius: "6px", padding: "4px 8px",
};

// Loads `url` beside whatever is shown: the shown model (with its size and fit key) changes only when the new
// one has loaded, so a preview never blanks the canvas. A failed load keeps the old model and reports it.
// The face/edge rows of `topologyUrl` (issue 27: id, solid, type and words per row), with a lookup by id;
// null when there is none or it cannot be read: the model still shows, only picking is off.
async function loadTopology(topologyUrl) {
  if (!topologyUrl) return null;
  try {
    const res = await fetch(topologyUrl, { credentials: "same-origin" });
    if (!res.ok) return null;
    const doc = await res.json();
    const faces = Array.isArray(doc.faces) ? doc.faces : [];
    const edges = Array.isArray(doc.edges) ? doc.edges : [];
    if (!faces.length && !edges.length) return null;
    const list = [...faces, ...edges];
    return { version: String(doc.version || ""), note: doc.note || "", list, byId: new Map(list.map((r) => [r.id, r])) };
  } catch (e) {
    return null;
  }
}

// Loads `url` (and its face/edge rows) beside whatever is shown: the shown model (with its size, fit key
// and rows) changes only when the new one has loaded, so a preview never blanks the canvas. A failed load
// keeps the old model and reports it.
function useShownModel(url, sizeKey, fitKey, topologyUrl) {
  const [shown, setShown] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!url) return undefined;
    let cancelled = false;
    setError(null);
    const rows = loadTopology(topologyUrl);
    new GLTFLoader().load(
      url,
      (gltf) => { rows.then((topology) => { if (!cancelled) setShown({ url, gltf, sizeKey, fitKey, topology }); }); },
      undefined,
      (err) => { if (!cancelled) setError({ url, message: (err && err.message) || String(err) }); },
    );
    return () => { cancelled = true; };
  }, [url, sizeKey, fitKey, topologyUrl]);
  return [shown, error];
}

// The keyboard's way to pick (issue 27): the shown version's faces and edges as a listbox. Arrow keys,
// Home/End and Page Up/Down move the highlight (the same highlight as hovering, drawn in the 3D view),
// Enter or Space adds or removes the highlighted row, Escape clears the selection. A click or tap on a row
// does what Enter does.
function PickList({ topology, picked, hover, onHover, onToggle, onClear, top }) {
  const listRef = useRef(null);
  const rows = topology.list;
  const index = hover ? rows.findIndex((r) => r.id === hover) : -1;
  useEffect(() => {
    const el = hover && listRef.current ? listRef.current.querySelector(`[data-id="${hover}"]`) : null;
    if (el && el.scrollIntoView) el.scrollIntoView({ block: "nearest" });
  }, [hover]);
  const onKeyDown = (e) => {
    const next = moveActive(rows.length, index, e.key);
    if (next !== null) {
      e.preventDefault();
      onHover(rows[next].id);
    } else if ((e.key === "Enter" || e.key === " ") && index >= 0) {
      e.preventDefault();
      onToggle(rows[index].id);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onClear();
    }
  };
  const faces = rows.filter((r) => r.id[0] === "F").length;
  return (
    <div style={{ ...panelStyle, top, right: 8, width: "250px", maxHeight: "60%", display: "flex", flexDirection: "column",
                  padding: "6px" }} data-testid="pick-panel">
      <div id="chat3d-pick-list-label" style={{ fontWeight: 600, marginBottom: "4px" }}>
        Faces and edges ({faces} faces, {rows.length - faces} edges)
      </div>
      {topology.note ? <div style={{ color: "var(--gray-11)", marginBottom: "4px" }}>{topology.note}</div> : null}
      <ul ref={listRef} role="listbox" aria-labelledby="chat3d-pick-list-label" aria-multiselectable="true" tabIndex={0}
          aria-activedescendant={index >= 0 ? `chat3d-pick-${rows[index].id}` : undefined} onKeyDown={onKeyDown}
          style={{ listStyle: "none", margin: 0, padding: 0, overflowY: "auto", outlineOffset: "2px" }}>
        {rows.map((r) => {
          const on = picked.includes(r.id);
          return (
            <li key={r.id} id={`chat3d-pick-${r.id}`} data-id={r.id} role="option" aria-selected={on}
                onClick={() => { onHover(r.id); onToggle(r.id); }} onMouseEnter={() => onHover(r.id)}
                style={{ padding: "2px 4px", borderRadius: "4px", cursor: "pointer", display: "flex", gap: "6px",
                         background: r.id === hover ? "var(--accent-a4)" : "transparent",
                         fontWeight: on ? 600 : 400 }}>
              <span aria-hidden="true" style={{ width: 8, height: 8, marginTop: 4, borderRadius: 2, flex: "none",
                                                 background: on ? PICKED_COLOUR : r.id === hover ? HOVER_COLOUR : "transparent" }} />
              <span style={{ flex: 1 }}>{r.label}</span>
              <span style={{ color: "var(--gray-10)" }}>{r.id}</span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

export function ModelViewer({ url, sizeMm, dark, units, fitKey, topologyUrl, pickedIds, pickedVersion, onPickGeometry,
                              partNames, testHook }) {
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
  const [shown, loadError] = useShownModel(url, sizeKey, key, topologyUrl || "");
  const choose = (name) => { setView(name); setNonce((n) => n + 1); };
  const onPick = useCallback((p) => setMarks((m) => (m.length >= 2 ? [p] : [...m, p])), []);
  const shownUrl = shown ? shown.url : "";
  useEffect(() => { setMarks([]); }, [shownUrl]);
  useEffect(() => { setHidden([]); }, [shown && shown.fitKey]);
  // Picking: the rows came with the shown model; the picked ids count only for the version they belong to.
  const topology = shown && shown.topology && onPickGeometry ? shown.topology : null;
  const version = topology ? topology.version : "";
  const picked = topology && pickedVersion === version ? pickedIds || [] : [];
  const [hover, setHover] = useState(null);
  const [listing, setListing] = useState(false);
  useEffect(() => { setHover(null); }, [version, measuring]);
  const pickIds = useCallback((ids) => { if (version && onPickGeometry) onPickGeometry(version, ids); }, [version, onPickGeometry]);
  const hovered = topology && hover ? topology.byId.get(hover) : null;
  const onKeyDown = (e) => {
    if (e.key === "Escape" && picked.length) { e.preventDefault(); pickIds([]); }
  };
  if (!url) return null;
  let shownSize = [];
  try { shownSize = JSON.parse(shown ? shown.sizeKey : "[]"); } catch (e) { shownSize = []; }
  const dims = dimsText(shownSize, unit);
  const readout = marks.length === 2 ? measure(marks[0].mm, marks[1].mm) : null;
  const failed = crashed || !!(loadError && loadError.url === url);
  const status = failed ? "error" : !info || !shown ? "loading" : shown.url !== url ? "updating" : "ready";
  return (
    <div style={{ position: "relative", width: "100%", height: "100%", minHeight: "240px", outline: "none" }}
         data-status={status} tabIndex={-1} onKeyDown={onKeyDown}
         onPointerDown={(e) => { if (e.target.tagName === "CANVAS") e.currentTarget.focus({ preventScroll: true }); }}>
      {/* The bar spans the canvas; only its buttons take the pointer, so a click between them picks/clears. */}
      <div role="toolbar" aria-label="Viewer controls"
           style={{ position: "absolute", top: 8, left: 8, right: 8, zIndex: 2, display: "flex", flexWrap: "wrap", gap: "4px",
                    pointerEvents: "none" }}>
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
        {topology ? (
          <button type="button" style={buttonStyle(listing)} aria-pressed={listing} aria-expanded={listing}
                  aria-label="List faces and edges" title="Pick faces and edges from a list (keyboard)"
                  onClick={() => setListing(!listing)}>Faces</button>
        ) : null}
      </div>
      {topology && listing ? (
        <PickList topology={topology} picked={picked} hover={hover} onHover={setHover} top={section.axis ? 80 : 40}
                  onToggle={(id) => pickIds(toggleSelection(picked, id))} onClear={() => pickIds([])} />
      ) : null}
      {hovered && !measuring ? (
        <div style={{ ...panelStyle, top: 40, left: 8, pointerEvents: "none" }} data-testid="pick-hover">
          {hovered.label}
        </div>
      ) : null}
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
          {info.parts.map((p) => {
            // The program's part name (issue 27: plain text made by the render service), by the solid_<n> node.
            const name = (partNames && partNames[Number(p.key.slice(6)) - 1]) || p.name;
            return (
              <label key={p.key} style={{ display: "flex", gap: "6px", alignItems: "center", cursor: "pointer" }}>
                <input type="checkbox" checked={!hidden.includes(p.key)} aria-label={`Show ${name}`}
                       onChange={() => setHidden((h) => (h.includes(p.key) ? h.filter((k) => k !== p.key) : [...h, p.key]))} />
                <span style={{ width: 10, height: 10, borderRadius: 2, background: p.color, display: "inline-block" }} />
                {name}
              </label>
            );
          })}
        </div>
      ) : null}
      <LoadBoundary key={key} onError={() => setCrashed(true)}>
        <Canvas
          frameloop="demand"
          dpr={[1, 2]}
          camera={{ fov: 40, position: [120, 100, 120], near: 0.1, far: 10000 }}
          gl={{ antialias: true, alpha: true, preserveDrawingBuffer: true, localClippingEnabled: true }}
          style={{ position: "absolute", inset: 0, cursor: measuring ? "crosshair" : hover ? "pointer" : "auto" }}
          aria-label="3D model preview"
        >
          <ambientLight intensity={0.55} />
          <hemisphereLight args={["#ffffff", "#66707f", 0.6]} />
          <directionalLight position={[60, 120, 80]} intensity={1.3} />
          <directionalLight position={[-80, 40, -60]} intensity={0.5} />
          {shown ? (
            <Model gltf={shown.gltf} sizeKey={shown.sizeKey} fitKey={shown.fitKey} units={unit} edges={edges} grid={grid}
                   view={view} nonce={nonce} dark={!!dark} onInfo={setInfo} measuring={measuring} onPick={onPick}
                   marks={marks} section={section} hidden={hidden} topology={topology} pickedIds={picked}
                   hover={hover} onHover={setHover} onPickIds={topology ? pickIds : null} testHook={!!testHook} />
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
