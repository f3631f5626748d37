// Chat3D's model viewer: a GLB from /api/files/{id} (same-origin, cookie auth) in react-three-fiber.
// Orbit/pan/zoom, fit, standard views, edges and a millimetre grid. Plain lights only: drei's
// Environment/Stage presets fetch HDR files from a CDN, which a self-hosted install cannot reach.
import React, { Component, Suspense, useEffect, useMemo, useState } from "react";
import { Canvas, useLoader, useThree } from "@react-three/fiber";
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

function gridStep(maxMm) {
  const step = Math.pow(10, Math.floor(Math.log10(Math.max(maxMm, 1) / 10)));
  return Math.max(step, 0.1);
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

function Model({ url, sizeKey, edges, grid, view, nonce, dark, onInfo }) {
  const gltf = useLoader(GLTFLoader, url);
  const { camera, controls, invalidate, size } = useThree();
  const prepared = useMemo(() => {
    const root = gltf.scene.clone(true);
    const material = new THREE.MeshStandardMaterial({
      color: "#7f9cc4", metalness: 0.15, roughness: 0.55, side: THREE.DoubleSide,
      polygonOffset: true, polygonOffsetFactor: 1, polygonOffsetUnits: 1,
    });
    const edgeMaterial = new THREE.LineBasicMaterial({ color: "#1b2433" });
    const lines = [];
    const meshes = [];
    root.traverse((obj) => {
      if (obj.isMesh) meshes.push(obj);
    });
    meshes.forEach((mesh) => {
      mesh.material = material;
      const line = new THREE.LineSegments(new THREE.EdgesGeometry(mesh.geometry, 25), edgeMaterial);
      line.raycast = () => null;
      mesh.add(line);
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
    return { holder, lines, box, maxMm, edgeMaterial };
  }, [gltf, sizeKey]);

  useEffect(() => {
    prepared.edgeMaterial.color.set(dark ? "#0b1220" : "#1b2433");
    prepared.lines.forEach((l) => { l.visible = edges; });
    invalidate();
  }, [edges, dark, prepared, invalidate]);

  // Refit on a new model, a view button, and a resize (a pane hidden at mount measures 0 × 0).
  useEffect(() => {
    if (!size.width || !size.height) return;
    camera.aspect = size.width / size.height;
    fitCamera(camera, controls, prepared.box, view, invalidate);
  }, [view, nonce, prepared, controls, camera, invalidate, size.width, size.height]);

  useEffect(() => {
    if (onInfo) onInfo({ step: gridStep(prepared.maxMm) });
  }, [prepared, onInfo]);

  const step = gridStep(prepared.maxMm);
  const extent = Math.max(prepared.maxMm * 3, step * 20);
  return (
    <group>
      <primitive object={prepared.holder} />
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

export function ModelViewer({ url, sizeMm, dark }) {
  const [view, setView] = useState("iso");
  const [nonce, setNonce] = useState(0);
  const [edges, setEdges] = useState(true);
  const [grid, setGrid] = useState(true);
  const [info, setInfo] = useState(null);
  const [failed, setFailed] = useState(false);
  const sizeKey = JSON.stringify(sizeMm || []);
  const choose = (name) => { setView(name); setNonce((n) => n + 1); };
  if (!url) return null;
  return (
    <div style={{ position: "relative", width: "100%", height: "100%", minHeight: "240px" }}
         data-status={failed ? "error" : info ? "ready" : "loading"}>
      <div role="toolbar" aria-label="Viewer controls"
           style={{ position: "absolute", top: 8, left: 8, right: 8, zIndex: 2, display: "flex", flexWrap: "wrap", gap: "4px" }}>
        <button type="button" style={buttonStyle(false)} onClick={() => choose(view)} aria-label="Fit model to view">Fit</button>
        {Object.entries(VIEWS).map(([name, v]) => (
          <button key={name} type="button" style={buttonStyle(view === name)} aria-pressed={view === name}
                  onClick={() => choose(name)} aria-label={`${v.label} view`}>{v.label}</button>
        ))}
        <span style={{ flex: 1 }} />
        <button type="button" style={buttonStyle(edges)} aria-pressed={edges} onClick={() => setEdges(!edges)}>Edges</button>
        <button type="button" style={buttonStyle(grid)} aria-pressed={grid} onClick={() => setGrid(!grid)}>Grid</button>
      </div>
      <LoadBoundary key={url} onError={() => setFailed(true)}>
        <Canvas
          frameloop="demand"
          dpr={[1, 2]}
          camera={{ fov: 40, position: [120, 100, 120], near: 0.1, far: 10000 }}
          gl={{ antialias: true, alpha: true, preserveDrawingBuffer: true }}
          style={{ position: "absolute", inset: 0 }}
          aria-label="3D model preview"
        >
          <ambientLight intensity={0.55} />
          <hemisphereLight args={["#ffffff", "#66707f", 0.6]} />
          <directionalLight position={[60, 120, 80]} intensity={1.3} />
          <directionalLight position={[-80, 40, -60]} intensity={0.5} />
          <Suspense fallback={null}>
            <Model url={url} sizeKey={sizeKey} edges={edges} grid={grid} view={view} nonce={nonce} dark={!!dark} onInfo={setInfo} />
          </Suspense>
          <OrbitControls makeDefault enableDamping={false} />
        </Canvas>
      </LoadBoundary>
      {info || failed ? null : (
        <div role="status" style={overlayStyle}>Loading model…</div>
      )}
      {grid && info ? (
        <div style={{ position: "absolute", left: 8, bottom: 8, zIndex: 2, fontSize: "11px", color: "var(--gray-11)",
                      background: "var(--gray-a2)", padding: "2px 6px", borderRadius: "4px" }}>
          Grid: {info.step} mm cells, {info.step * 10} mm sections
        </div>
      ) : null}
    </div>
  );
}

export default ModelViewer;
