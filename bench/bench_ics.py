"""ICS for a 7,000-event selection: assembled from cached fragments vs built whole with icalendar.

Mirror (generated with SQL): one group whose timetable holds ``--events`` events (default 7,000,
the limit), each booking the group, one of 60 teachers, one of 120 rooms (with a genealogy and
coordinates) and one of 40 subjects; one user selecting the group.

Figures:
- full icalendar build: one ``Calendar`` with every ``Event``, ``to_ical()`` (what a naive feed does);
- cold build through the read models (every fragment rendered, Redis empty);
- after one event changed: *assembly* only (VEVENT contents, fragment look-up, one render,
  concatenation, ETag, gzip) — target < 100 ms — and the whole ``apply({Topic.EVENT: {id}})``
  (Postgres loads, the resource documents, the calendar JSON, the feed, Redis writes).

    .venv/bin/python bench/bench_ics.py [--database-url URL] [--events 7000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from icalendar import Calendar, Event  # noqa: E402

from bench.bench_rebuild import start_redis  # noqa: E402
from projections.builders import ics as ics_builder  # noqa: E402
from projections.builders.document import StoredDocument  # noqa: E402
from projections.readmodels import ReadModels  # noqa: E402
from projections.readmodels.batch import Batch  # noqa: E402
from schedulesy import db  # noqa: E402
from schedulesy.changes import Topic  # noqa: E402
from schedulesy.selection import Selection  # noqa: E402
from schedulesy.services import open_services  # noqa: E402
from schedulesy.settings import load_settings  # noqa: E402

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/schedulesy_bench_ics"
GROUP = "32291"

MIRROR_SQL = """
TRUNCATE public.w_edtperso, schedulesy.timetable, schedulesy.event_resource, schedulesy.event,
         schedulesy.resource, schedulesy.change RESTART IDENTITY CASCADE;
INSERT INTO schedulesy.resource (ext_id, category, parent_ext_id, name, fields, geolocation) VALUES
    ('trainee', 'trainee', NULL, 'trainee', '{{"tag": "category", "category": "trainee", "id": "trainee", "name": "trainee"}}', NULL),
    ('{group}', 'trainee', 'trainee', 'M2 Biotechnologie HD',
     '{{"tag": "leaf", "id": "{group}", "name": "M2 Biotechnologie HD", "category": "trainee", "parent": "trainee",
        "genealogy": [{{"id": "trainee", "name": "trainee", "code": ""}}]}}', NULL);
INSERT INTO schedulesy.resource (ext_id, category, parent_ext_id, name, fields, geolocation)
SELECT (2000 + r)::text, 'classroom', 'classroom', 'Salle ' || r,
       jsonb_build_object('tag', 'leaf', 'id', (2000 + r)::text, 'name', 'Salle ' || r, 'category', 'classroom',
           'genealogy', jsonb_build_array(
               jsonb_build_object('id', 'classroom', 'name', 'classroom', 'code', ''),
               jsonb_build_object('id', '30622', 'name', 'COL  -SITE COLMAR', 'code', ''),
               jsonb_build_object('id', '30628', 'name', 'ESPE COLMAR BATIMENT PRINCIPAL', 'code', '1059240'))),
       jsonb_build_array(48.607508 + r / 10000.0, 7.708025, 0.0)
FROM generate_series(0, 119) r;
INSERT INTO schedulesy.event (event_id, activity_id, repetition, session, name, starts_at, ends_at, date,
                              start_hour, end_hour, duration, color, note, last_update, content_hash, sequence)
SELECT i, i / 10, i % 10, 0, 'Cours ' || substr(md5(i::text), 1, 12),
       t.local_start AT TIME ZONE 'Europe/Paris', (t.local_start + interval '2 hours') AT TIME ZONE 'Europe/Paris',
       to_char(t.local_start, 'DD/MM/YYYY'), to_char(t.local_start, 'HH24:MI'),
       to_char(t.local_start + interval '2 hours', 'HH24:MI'), 8, '#6699ff', '',
       timestamptz '2025-08-01 10:00+02' + i * interval '1 minute', md5(i::text), 0
FROM generate_series(1, {events}) i
CROSS JOIN LATERAL (SELECT timestamp '2025-09-01 08:00' + (i / 5) * interval '1 day' + (i % 5) * interval '2 hours' AS local_start) t;
INSERT INTO schedulesy.event_resource (event_id, resource_ext_id, category, name, position)
SELECT i, b.ext_id, b.category, b.name, b.position FROM generate_series(1, {events}) i
CROSS JOIN LATERAL (VALUES
    ('{group}', 'trainee', 'M2 Biotechnologie HD', 0),
    ((5000 + i % 60)::text, 'instructor', 'Enseignant ' || (i % 60), 1),
    ((2000 + i % 120)::text, 'classroom', 'Salle ' || (i % 120), 2),
    ((6000 + i % 40)::text, 'category5', 'Matière ' || (i % 40), 3)) b(ext_id, category, name, position);
INSERT INTO schedulesy.timetable (resource_ext_id, event_id) SELECT '{group}', i FROM generate_series(1, {events}) i;
INSERT INTO public.w_edtperso (ressources, uds_directory_id, uid) VALUES ('{group}', 'd1', 'jdupont');
"""


def millis(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (n={len(ordered)})"


def whole_icalendar_build(contents: list[ics_builder.IcsEvent], header_name: str) -> bytes:
    """The naive way: every event rendered again, in one Calendar, on each change."""
    calendar = Calendar()
    calendar.add("prodid", ics_builder.PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", header_name)
    for content in contents:
        event = Event()
        event.add("uid", content.uid)
        event.add("dtstamp", content.stamp)
        event.add("last-modified", content.stamp)
        event.add("sequence", content.sequence)
        event.add("dtstart", content.starts_at)
        event.add("dtend", content.ends_at)
        event.add("summary", content.summary)
        if content.location:
            event.add("location", content.location)
        if content.geo:
            event.add("geo", content.geo)
        if content.description:
            event.add("description", content.description)
        calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical


async def run(args: argparse.Namespace) -> None:
    await db.ensure_database(args.database_url)
    await db.migrate(args.database_url)
    conn = await db.connect(args.database_url)
    try:
        await conn.execute(MIRROR_SQL.format(events=args.events, group=GROUP))
    finally:
        await conn.close()
    redis_process, redis_url, _ = start_redis()
    try:
        await asyncio.sleep(0.5)
        settings = load_settings({
            "SCHEDULESY_DATABASE_URL": args.database_url, "SCHEDULESY_REDIS_URL": redis_url,
            "SCHEDULESY_PUBLIC_URL": "https://edt.example.edu", "SCHEDULESY_MAX_EVENTS": str(max(7000, args.events)),
        })
        async with open_services(settings) as services:
            models = ReadModels(services)
            selection = Selection.of([GROUP])

            async with services.pool.acquire() as conn:
                batch = Batch(conn, settings.zone)
                started = time.perf_counter()
                await batch.load_resources(selection.ids)
                await batch.load_events_of(selection.ids)
                load = time.perf_counter() - started
                events = batch.events_of(selection.ids)
            contents = [ics_builder.ics_event(e, batch.events.classrooms, models.documents.host) for e in events]
            started, started_cpu = time.perf_counter(), time.process_time()
            whole = whole_icalendar_build(contents, "Emploi du temps")
            print(f"{len(events)} events; loading them from Postgres: {load * 1000:.0f} ms")
            print(f"full icalendar build (one Calendar, every Event): {(time.perf_counter() - started) * 1000:.0f} ms "
                  f"(CPU {(time.process_time() - started_cpu) * 1000:.0f} ms), {len(whole) / 2**20:.1f} MiB")

            started = time.perf_counter()
            document = await models.on_demand.selection_ics(selection)
            print(f"cold read-through (every fragment rendered): {(time.perf_counter() - started) * 1000:.0f} ms, "
                  f"body {len(document.body) / 2**20:.1f} MiB, gzip {len(document.gzip_body or b'') / 2**10:.0f} KiB")
            await models.apply({Topic.USER: {"jdupont"}})  # the projector's copy, fragments now cached

            assembly: list[float] = []
            assembly_cpu: list[float] = []
            applies: list[float] = []
            for round_ in range(args.rounds):
                event_id = 1 + (round_ * 337) % args.events
                await services.pool.execute(
                    "UPDATE schedulesy.event SET name = name || '*', sequence = sequence + 1 WHERE event_id = $1",
                    event_id,
                )
                async with services.pool.acquire() as conn:
                    batch = Batch(conn, settings.zone)
                    await batch.load_resources(selection.ids)
                    await batch.load_events_of(selection.ids)
                    started, started_cpu = time.perf_counter(), time.process_time()
                    plan = models.documents.ics_plan(batch, selection, batch.events_of(selection.ids))
                    feed = (await models.fragments.assemble({"bench": plan}))["bench"]
                    feed.stored(int(time.time()))
                    assembly.append(time.perf_counter() - started)
                    assembly_cpu.append(time.process_time() - started_cpu)
                started = time.perf_counter()
                await models.apply({Topic.EVENT: {str(event_id)}})
                applies.append(time.perf_counter() - started)
            print(f"after one event changed, ICS assembly: {millis(assembly)}; CPU time {millis(assembly_cpu)}")
            print(f"after one event changed, whole apply (events docs + calendar + feed + writes): {millis(applies)}")
            final = await models.store.read(services.keys.ics(selection.hash))
            assert isinstance(final, StoredDocument) and final.body.count(b"BEGIN:VEVENT") == args.events
    finally:
        redis_process.terminate()
        redis_process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("SCHEDULESY_BENCH_ICS_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--events", type=int, default=7000)
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
