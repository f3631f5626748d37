"""Offline templates: a provider that needs no network (see `provider`)."""

from chat3d.llm.offline.provider import CODEGEN_MODEL, CONVERSATION_MODEL, OfflineProvider

__all__ = ["CODEGEN_MODEL", "CONVERSATION_MODEL", "OfflineProvider"]
