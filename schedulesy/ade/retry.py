"""How the ADE client retries a request that failed on the network, timed out or got a 5xx."""

from __future__ import annotations

import random
from typing import Annotated, TypeAlias

import msgspec

NonNegative: TypeAlias = Annotated[float, msgspec.Meta(ge=0)]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Up to ``retries`` attempts after the first, with exponential backoff.

    Retry ``n`` (0 for the first) waits ``min(max_delay, base_delay * 2**n)`` seconds, spread by
    ±``jitter`` (a fraction) so that clients failing together do not come back in lockstep. The
    defaults give a struggling ADE about 3.5 s before a call is reported unavailable.
    """

    retries: Annotated[int, msgspec.Meta(ge=0)] = 3
    base_delay: NonNegative = 0.5
    max_delay: NonNegative = 30.0
    jitter: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.25

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry``."""
        backoff = min(self.max_delay, self.base_delay * 2.0**retry)
        if not self.jitter:
            return backoff
        uniform = rng.uniform if rng is not None else random.uniform
        return backoff * uniform(1 - self.jitter, 1 + self.jitter)
