"""Providers and their registry. Built in: ``fake``."""

from __future__ import annotations

from ._base import (
    Provider,
    ProviderFactory,
    ProviderSpec,
    build_provider,
    known_providers,
    provider_spec,
    register_provider,
)
from .fake import FakeFault, FakeHang, FakeProvider, FakeReply, FakeStep

register_provider(
    "fake",
    lambda settings: FakeProvider(),
    description="deterministic offline provider: echoes, or follows a script",
)

__all__ = [
    "FakeFault",
    "FakeHang",
    "FakeProvider",
    "FakeReply",
    "FakeStep",
    "Provider",
    "ProviderFactory",
    "ProviderSpec",
    "build_provider",
    "known_providers",
    "provider_spec",
    "register_provider",
]
