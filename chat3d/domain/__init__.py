"""The framework-free domain layer: every business rule once, as functions over a SQLModel session."""
