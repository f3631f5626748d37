"""The query pipeline: a prompt becomes a verified 3D model (conversation → codegen → render → repair)."""
