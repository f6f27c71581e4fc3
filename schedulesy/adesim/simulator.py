"""The simulated ADE server's state: one store per project, sessions, settings, faults and counters.

:class:`Simulator` is what the Web API functions (:mod:`schedulesy.adesim.webapi`) and the admin API
(:mod:`schedulesy.adesim.admin`) act on, and what tests may inspect in-process. It knows nothing of
HTTP: :mod:`schedulesy.adesim.app` serves it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import zoneinfo

import msgspec

from schedulesy.adesim.controls import Config, Faults, Quirks, Stats
from schedulesy.adesim.model import University
from schedulesy.adesim.store import Store

DEFAULT_LOGIN = "schedulesy"
DEFAULT_PASSWORD = "schedulesy"
DEFAULT_DATA_TOKEN = "5363686564756c6573792d73696d756c61746f72,1"


class Session(msgspec.Struct):
    id: str
    login: str
    project_id: int | None
    last_seen: float
    """``time.monotonic()`` of the last call."""


class Simulator:
    """A university served as ADE would: the live project plus two empty archives (ids +1, +2)."""

    def __init__(self, university: University, *, login: str = DEFAULT_LOGIN, password: str = DEFAULT_PASSWORD,
                 session_ttl: float = 1800.0, data_token: str = DEFAULT_DATA_TOKEN, quirks: Quirks | None = None,
                 archive_projects: bool = True, max_concurrency: int | None = None) -> None:
        self.university = university
        self.login, self.password, self.data_token = login, password, data_token
        self.project_id = university.project.id
        self.frozen_now: dt.datetime | None = None
        self.stores: dict[int, Store] = {self.project_id: Store(university, self.now)}
        if archive_projects:
            for offset, name in ((1, _previous_year(university.project.name)),
                                 (2, f"NEPASTOUCHER{university.project.name.replace('-', '')[2:4]}"
                                     f"{university.project.name[-2:]}_SAUV")):
                archive = msgspec.structs.replace(
                    university, resources=(), activities=(), activity_folders=(), events=(),
                    project=msgspec.structs.replace(university.project, id=self.project_id + offset, name=name,
                                                    uid=university.project.uid - offset * 31_536_000_000))
                self.stores[self.project_id + offset] = Store(archive, self.now)
        self.initial_quirks = quirks or Quirks()
        self.initial_config = Config(session_ttl=session_ttl, max_concurrency=max_concurrency)
        self.sessions: dict[str, Session] = {}
        self._gate: asyncio.Semaphore | None = None
        self.reset(keep_sessions=False, data=False)

    @property
    def store(self) -> Store:
        """The live project's store."""
        return self.stores[self.project_id]

    def now(self) -> dt.datetime:
        """Project-local wall-clock time, or the frozen one (for reproducible stamps in tests)."""
        if self.frozen_now is not None:
            return self.frozen_now
        zone = zoneinfo.ZoneInfo(self.university.project.timezone)
        return dt.datetime.now(zone).replace(tzinfo=None, second=0, microsecond=0)

    def reset(self, *, keep_sessions: bool = False, data: bool = True) -> None:
        if data:
            for store in self.stores.values():
                store.reset()
        self.quirks = msgspec.structs.replace(self.initial_quirks)
        self.set_config(msgspec.structs.replace(self.initial_config))
        self.set_faults(Faults())
        self.stats = Stats()
        self.frozen_now = None
        if not keep_sessions:
            self.sessions.clear()

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self._fault_rng = random.Random(faults.seed)

    def set_config(self, config: Config) -> None:
        self.config = config
        self._gate = None

    def concurrency_gate(self) -> asyncio.Semaphore | None:
        """The semaphore capping Web API calls in flight (``max_concurrency``), or None when uncapped.

        Made on first use, inside the server's event loop, and anew after every config change.
        """
        if self.config.max_concurrency and self._gate is None:
            self._gate = asyncio.Semaphore(self.config.max_concurrency)
        return self._gate

    def inject_error(self, function: str) -> bool:
        """Whether this call of ``function`` answers the injected error (``error_next``, ``error_fraction``)."""
        faults = self.faults
        if faults.error_functions is not None and function not in faults.error_functions:
            return False
        if faults.error_next > 0:
            faults.error_next -= 1
            return True
        return bool(faults.error_fraction) and self._fault_rng.random() < faults.error_fraction


def _previous_year(name: str) -> str:
    try:
        start, end = (int(x) for x in name.split("-"))
        return f"{start - 1}-{end - 1}"
    except ValueError:
        return f"{name} (archive)"
