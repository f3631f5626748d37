"""The LLM layer: provider-neutral types (`base`), SDK adapters, the offline provider, and the model registry."""
