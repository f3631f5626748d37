"""Reusable Reflex components shared by pages."""
