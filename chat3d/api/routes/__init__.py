"""Thin FastAPI routers over the domain services, one module per feature."""
