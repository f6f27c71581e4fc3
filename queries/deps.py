"""Dependency annotations of the read handlers (Litestar wants dependencies marked explicitly)."""

from __future__ import annotations

from litestar.di import NamedDependency, Provide

from schedulesy.auth import Identity, optional_identity, require_identity

IdentityDep = NamedDependency[Identity]
"""A handler parameter ``identity: IdentityDep`` receives the authenticated caller."""

OptionalIdentityDep = NamedDependency[Identity | None]
"""``identity: OptionalIdentityDep``: the caller, or ``None`` for an anonymous request."""

REQUIRE_IDENTITY = {"identity": Provide(require_identity)}
OPTIONAL_IDENTITY = {"identity": Provide(optional_identity)}
