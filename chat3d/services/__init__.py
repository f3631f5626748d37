"""Adapters to the outside world the domain relies on: readiness probes, render client, storage, mail."""
