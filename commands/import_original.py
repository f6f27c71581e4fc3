"""``schedulesy import-original``: the original service's direct accesses and display settings, brought over.

The original keeps them in its Django tables (docs/compatibility.md §4.2): ``ade_api_localcustomization``
(``uid``, ``configuration``) and ``ade_api_access`` (``key``, ``name``, ``creation_date``), joined on
``customization_id``. Every key keeps its exact value, so the calendar subscriptions and QR codes
handed out by the original keep answering once the proxy points at us.

The import is a pure function of both databases: users are taken in ``uid`` order, in batches of one
transaction each; everything already equal here is "unchanged", so a run killed mid-way is finished by
running it again. Nothing is ever overwritten: what cannot be brought over as it is (a key another
user holds here, a name already taken, a configuration that is not an object...) is reported and
skipped, for an operator to decide.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import asyncpg
import msgspec

from commands.common import ReadModelUpdates, in_transaction
from commands.import_report import Conflict, ImportReport
from schedulesy.keys import canonical_access_key
from schedulesy.locks import LockClass
from schedulesy.usernames import UID_LENGTH, is_username

BATCH_USERS = 500
SOURCE_TABLES = ("ade_api_localcustomization", "ade_api_access")

_SOURCE_USERS = """
SELECT uid, configuration::text AS configuration, jsonb_typeof(configuration) AS kind
  FROM ade_api_localcustomization ORDER BY uid
"""
_SOURCE_ACCESSES = """
SELECT c.uid, a.key, a.name, a.creation_date
  FROM ade_api_access a JOIN ade_api_localcustomization c ON c.id = a.customization_id
 ORDER BY c.uid, a.creation_date, a.key
"""


class SourceAccess(msgspec.Struct, frozen=True):
    key: str
    """Exactly as the original stored it."""
    name: str
    created_at: datetime


class SourceUser(msgspec.Struct):
    username: str
    configuration: str | None
    """The JSON text, or None for SQL null."""
    configuration_kind: str | None
    """``jsonb_typeof``: ``object``, ``array``, ``string``... (None for SQL null)."""
    accesses: list[SourceAccess] = msgspec.field(default_factory=list)


class ImportFailed(Exception):
    """A batch failed: it wrote nothing; the batches before it are committed."""

    def __init__(self, report: ImportReport, first_user: str, cause: BaseException) -> None:
        super().__init__(f"the batch starting at user {first_user!r} failed and wrote nothing: "
                         f"{type(cause).__name__}: {cause}"[:300])
        self.report = report


async def read_source(source: asyncpg.Connection) -> list[SourceUser]:
    """Every user of the original with their accesses, in ``uid`` order."""
    users = {}
    for row in await source.fetch(_SOURCE_USERS):
        stored = row["kind"] not in (None, "null")  # a JSON null is no settings, as SQL null
        users[row["uid"]] = SourceUser(row["uid"], row["configuration"] if stored else None,
                                       row["kind"] if stored else None)
    for row in await source.fetch(_SOURCE_ACCESSES):
        users[row["uid"]].accesses.append(SourceAccess(row["key"], row["name"], row["creation_date"]))
    return list(users.values())


def parse_key(key: str) -> uuid.UUID | None:
    """The UUID a key names, as the key URLs read it (:func:`canonical_access_key`); None when no
    URL of ours can carry it (another spelling of a UUID, or no UUID at all)."""
    canonical = canonical_access_key(key)
    return None if canonical is None else uuid.UUID(canonical)


def batches(users: Sequence[SourceUser], size: int) -> Iterator[Sequence[SourceUser]]:
    for start in range(0, len(users), size):
        yield users[start:start + size]


class _Existing(msgspec.Struct):
    """What this database already holds for one batch."""

    customizations: set[str]
    configurations: dict[str, bool]
    """username → whether ours equals the original's (only users whose source has an object)."""
    by_key: dict[uuid.UUID, tuple[str, str, datetime]]
    """Our accesses with one of the batch's keys: key → (owner, name, created_at)."""
    names: dict[str, set[str]]
    """username → the names of that batch user's accesses here."""


class BatchPlan(msgspec.Struct):
    configurations: list[tuple[str, str]] = msgspec.field(default_factory=list)
    accesses: list[tuple[uuid.UUID, str, str, datetime]] = msgspec.field(default_factory=list)


async def _existing(conn: asyncpg.Connection, users: Sequence[SourceUser]) -> _Existing:
    names = [u.username for u in users]
    objects = [u for u in users if u.configuration_kind == "object"]
    keys = [k for u in users for a in u.accesses if (k := parse_key(a.key)) is not None]
    customizations = {row["uid"] for row in await conn.fetch(
        "SELECT DISTINCT uid FROM public.w_edtperso WHERE uid = ANY($1::text[])", names)}
    configurations = {row["username"]: row["same"] for row in await conn.fetch(
        """SELECT c.username, c.configuration = s.configuration::jsonb AS same
             FROM unnest($1::text[], $2::text[]) AS s(username, configuration)
             JOIN schedulesy.customization_config c ON c.username = s.username""",
        [u.username for u in objects], [u.configuration for u in objects])}
    by_key = {row["key"]: (row["username"], row["name"], row["created_at"]) for row in await conn.fetch(
        "SELECT key, username, name, created_at FROM schedulesy.access WHERE key = ANY($1::uuid[])", keys)}
    owned: dict[str, set[str]] = {}
    for row in await conn.fetch("SELECT username, name FROM schedulesy.access WHERE username = ANY($1::text[])",
                                names):
        owned.setdefault(row["username"], set()).add(row["name"])
    return _Existing(customizations, configurations, by_key, owned)


def _user_problem(user: SourceUser, existing: _Existing) -> tuple[str, str] | None:
    if len(user.username) > UID_LENGTH:
        return "username_too_long", f"{len(user.username)} characters, at most {UID_LENGTH} here"
    if not is_username(user.username):
        return "not_a_username", ""
    if user.username not in existing.customizations:
        return "no_w_edtperso_row", "the user has no selection here"
    return None


def plan_batch(users: Sequence[SourceUser], existing: _Existing, report: ImportReport,
               duplicates: set[tuple[str, str]]) -> BatchPlan:
    """Decide each user's fate, count it in ``report``, and return what to write."""
    plan = BatchPlan()
    for user in users:
        problem = _user_problem(user, existing)
        if problem is not None:
            reason, detail = problem
            report.users.skip(reason)
            report.conflicts.append(Conflict(user.username, "user", reason, detail))
            if user.configuration_kind is not None:
                report.configurations.skip(reason)
            report.keys.skip(reason, len(user.accesses))
            continue
        written_before = len(plan.configurations) + len(plan.accesses)
        _plan_configuration(user, existing, report, plan)
        names = existing.names.setdefault(user.username, set())
        for access in user.accesses:
            _plan_access(user.username, access, existing, names, duplicates, report, plan)
        if len(plan.configurations) + len(plan.accesses) > written_before:
            report.users.imported += 1
        else:
            report.users.unchanged += 1
    return plan


def _plan_configuration(user: SourceUser, existing: _Existing, report: ImportReport, plan: BatchPlan) -> None:
    tally = report.configurations
    if user.configuration_kind is None:
        tally.null += 1
    elif user.configuration_kind != "object":
        tally.skip("not_an_object")
        report.conflicts.append(Conflict(user.username, "configuration", "not_an_object",
                                         f"a JSON {user.configuration_kind}"))
    elif user.username not in existing.configurations:
        assert user.configuration is not None
        plan.configurations.append((user.username, user.configuration))
        tally.imported += 1
    elif existing.configurations[user.username]:
        tally.unchanged += 1
    else:
        tally.skip("differs_here")
        report.conflicts.append(Conflict(user.username, "configuration", "differs_here",
                                         "this service holds another configuration; kept"))


def _plan_access(username: str, access: SourceAccess, existing: _Existing, names: set[str],
                 duplicates: set[tuple[str, str]], report: ImportReport, plan: BatchPlan) -> None:
    tally = report.keys

    def conflict(reason: str, detail: str = "") -> None:
        tally.skip(reason)
        report.conflicts.append(Conflict(username, "key", reason, f"{access.key}{'; ' + detail if detail else ''}"))

    key = parse_key(access.key)
    if key is None:
        return conflict("not_a_uuid", "no key URL can name it")
    if (username, access.key) in duplicates:
        return conflict("duplicate_in_original", "another key of the original names the same UUID")
    if not access.name:
        return conflict("empty_name")
    here = existing.by_key.get(key)
    if here is not None:
        if here == (username, access.name, access.created_at):
            tally.unchanged += 1
        elif here[0] != username:
            conflict("held_by_another_user", f"owned here by {here[0]!r}")
        else:
            conflict("differs_here", f"here named {here[1]!r}, created {here[2].isoformat()}")
        return
    if access.name in names:
        return conflict("name_taken", f"this user already has an access named {access.name!r} here")
    names.add(access.name)
    plan.accesses.append((key, username, access.name, access.created_at))
    tally.imported += 1


def duplicate_keys(users: Sequence[SourceUser]) -> set[tuple[str, str]]:
    """(username, key) of every key naming a UUID that an earlier key (in import order) names too:
    the original's varchar column told ``ABC…`` from ``abc…``; a UUID does not."""
    seen: set[uuid.UUID] = set()
    later: set[tuple[str, str]] = set()
    for user in users:
        for access in user.accesses:
            key = parse_key(access.key)
            if key is None:
                continue
            if key in seen:
                later.add((user.username, access.key))
            seen.add(key)
    return later


async def _lock_users(conn: asyncpg.Connection, users: Sequence[SourceUser]) -> None:
    """Serialise with the API's commands about these users (commands/common.py: lock_user), in one order."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext(u)) FROM unnest($2::text[]) AS u",
                       LockClass.USER, sorted(u.username for u in users))


async def _write(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    if plan.configurations:
        await conn.execute(
            """INSERT INTO schedulesy.customization_config (username, configuration)
               SELECT username, configuration::jsonb FROM unnest($1::text[], $2::text[]) AS s(username, configuration)""",
            [u for u, _ in plan.configurations], [c for _, c in plan.configurations])
    if plan.accesses:
        await conn.execute(
            """INSERT INTO schedulesy.access (key, username, name, created_at)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])""",
            *(list(column) for column in zip(*plan.accesses)))


async def import_users(
    conn: asyncpg.Connection, users: Sequence[SourceUser], read_models: ReadModelUpdates, *,
    dry_run: bool = False, batch_size: int = BATCH_USERS, after_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``users`` (in ``uid`` order) batch by batch; each batch is one transaction, its
    users' documents projected right after its commit (read-your-writes). Raises
    :class:`ImportFailed` (with the report so far) when a batch fails."""
    report = ImportReport(batches=(len(users) + batch_size - 1) // batch_size)
    duplicates = duplicate_keys(users)
    for index, batch in enumerate(batches(users, batch_size)):

        async def work(batch: Sequence[SourceUser] = batch) -> ImportReport:
            attempt = ImportReport()  # afresh on each try: in_transaction retries deadlock victims
            if not dry_run:
                await _lock_users(conn, batch)
            plan = plan_batch(batch, await _existing(conn, batch), attempt, duplicates)
            if not dry_run:
                await _write(conn, plan)
            return attempt

        try:
            counted = await work() if dry_run else await in_transaction(conn, work, read_models)
        except Exception as exc:
            raise ImportFailed(report, batch[0].username, exc) from exc
        report.add(counted)
        report.batches_done += 1
        if after_batch is not None:
            after_batch(index)
    return report
