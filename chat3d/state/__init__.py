"""Reflex state classes, one per feature; each is a thin adapter over the domain layer."""
