"""ICS feeds assembled from rendered VEVENT fragments: process memory, then Redis, then icalendar.

icalendar renders ~5,000 VEVENTs a second; a 7,000-event feed rebuilt whole on every change would
cost over a second. A fragment is named by :meth:`IcsEvent.fragment_id` (stable key + digest of
its content), so it is rendered once, shared by every feed and every process that shows the same
event, and a feed is *assembled*: header + fragments + footer.
"""

from __future__ import annotations

import asyncio

import dataclasses
from collections.abc import Callable, Mapping

from redis.exceptions import ResponseError

from projections.builders import ics as ics_builder
from projections.builders.document import Built
from projections.readmodels.store import REDIS_DOWN, RedisSwitch, chunks
from schedulesy.keys import Keys
from schedulesy.lru import Lru
from schedulesy.services import RedisClient

FRAGMENT_TTL = 7 * 24 * 3600
"""Fragments are content-addressed: an edited event gets a new one, the old one expires unused."""
PIPELINE_CHUNK = 1000


@dataclasses.dataclass(frozen=True)
class FeedPlan:
    """A feed before assembly."""

    header: bytes
    fragment_ids: list[str]
    nb_events: int
    content: Callable[[str], ics_builder.IcsEvent]
    """The VEVENT content behind one of ``fragment_ids``: asked only for fragments to render,
    so a rebuild keeps fragment ids in memory, not every event's content."""


class FragmentStore:
    """Rendered VEVENTs by fragment id. Redis is a cache here: when it fails, fragments are
    rendered (slower, same bytes)."""

    def __init__(self, redis: RedisClient, keys: Keys, switch: RedisSwitch, capacity: int) -> None:
        self.redis = redis
        self.keys = keys
        self.switch = switch
        self._lru: Lru[str, bytes] = Lru(capacity)

    def _remember(self, fragment_id: str, fragment: bytes) -> None:
        self._lru.put(fragment_id, fragment)

    async def resolve(
        self, wanted: Mapping[str, Callable[[str], ics_builder.IcsEvent]]
    ) -> dict[str, bytes]:
        """The fragment of every wanted id (id → how to get its content), rendering (and
        sharing) only the unknown ones."""
        found: dict[str, bytes] = {}
        missing: list[str] = []
        for fragment_id in wanted:
            fragment = self._lru.get(fragment_id)
            if fragment is None:
                missing.append(fragment_id)
            else:
                found[fragment_id] = fragment
        if missing:
            found.update(await self._fetch(missing))
        rendered = {f: ics_builder.render_event(wanted[f](f)) for f in missing if f not in found}
        for fragment_id, fragment in rendered.items():
            found[fragment_id] = fragment
            self._remember(fragment_id, fragment)
        if rendered:
            await self._share(rendered)
        return found

    async def _fetch(self, fragment_ids: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        if not self.switch.usable():
            return found
        try:
            for chunk in chunks(fragment_ids, PIPELINE_CHUNK):
                pipe = self.redis.pipeline(transaction=False)
                for fragment_id in chunk:
                    pipe.get(self.keys.ics_event(fragment_id))
                for fragment_id, fragment in zip(chunk, await pipe.execute(raise_on_error=False), strict=True):
                    if isinstance(fragment, bytes):
                        found[fragment_id] = fragment
                        self._remember(fragment_id, fragment)
        except REDIS_DOWN:
            self.switch.failed()
        return found

    async def _share(self, rendered: Mapping[str, bytes]) -> None:
        if not self.switch.usable():
            return
        try:
            for chunk in chunks(rendered.items(), PIPELINE_CHUNK):
                pipe = self.redis.pipeline(transaction=False)
                for fragment_id, fragment in chunk:
                    pipe.set(self.keys.ics_event(fragment_id), fragment, ex=FRAGMENT_TTL)
                await pipe.execute(raise_on_error=False)
        except REDIS_DOWN:
            self.switch.failed()
        except ResponseError:
            pass

    async def assemble(self, plans: Mapping[str, FeedPlan]) -> dict[str, Built]:
        """Each feed is its header + its events' fragments; each fragment is rendered at most once."""
        wanted = {f: plan.content for plan in plans.values() for f in plan.fragment_ids}
        found = await self.resolve(wanted)
        feeds: dict[str, Built] = {}
        for name, plan in plans.items():
            await asyncio.sleep(0)  # one feed at a time: other tasks run between two (documents.let_others_run)
            feeds[name] = ics_builder.build_ics(plan.header, [found[f] for f in plan.fragment_ids], plan.nb_events)
        return feeds
