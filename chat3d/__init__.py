"""Chat3D: a self-hosted prompt-to-CAD workspace."""
