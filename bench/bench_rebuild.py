"""Full read-model rebuild on a university-sized mirror: time, Redis memory, worker memory.

The mirror is generated in Postgres with SQL (``generate_series``), independent of the ADE sync:
~16,000 resources in four trees, ~250,000 events (lectures booked on year groups and shown on
every group below them, tutorials booked on one group), ~1.5 million timetable rows, 50,000
users whose selections follow a skewed distribution (most students pick their group, some add
an option or a second group, teachers pick themselves), one access key each.

A private ``redis-server`` is started so that ``INFO memory`` measures our keys only.

    .venv/bin/python bench/bench_rebuild.py [--database-url URL] [--scale 1.0] [--reuse]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, peak_rss_mib  # noqa: E402
from projections.readmodels import ReadModels  # noqa: E402
from schedulesy import db  # noqa: E402
from schedulesy.changes import Topic  # noqa: E402
from schedulesy.services import RedisClient, open_services  # noqa: E402
from schedulesy.settings import load_settings  # noqa: E402

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/schedulesy_bench_rebuild"

# Sizes at scale 1.0.
PROGRAMMES, YEARS, GROUPS_PER_YEAR = 100, 3, 6
DEPARTMENTS, INSTRUCTORS = 60, 5940
SITES, BUILDINGS, ROOMS = 10, 100, 3890
FOLDERS, SUBJECTS = 100, 3700
LECTURES, TUTORIALS = 60_000, 190_000
USERS = 50_000

RESOURCES_SQL = """
CREATE TEMP TABLE gen_resource (
    ext_id text PRIMARY KEY, category text, parent text, name text, code text, email text,
    geolocation jsonb, position int
);
INSERT INTO gen_resource VALUES
    ('trainee', 'trainee', NULL, 'trainee', '', NULL, NULL, 0),
    ('instructor', 'instructor', NULL, 'instructor', '', NULL, NULL, 1),
    ('classroom', 'classroom', NULL, 'classroom', '', NULL, NULL, 2),
    ('category5', 'category5', NULL, 'category5', '', NULL, NULL, 3);
INSERT INTO gen_resource SELECT (100000 + p)::text, 'trainee', 'trainee',
    'Licence ' || initcap(substr(md5('p' || p), 1, 8)), '', NULL, NULL, p
    FROM generate_series(0, {programmes} - 1) p;
INSERT INTO gen_resource SELECT (110000 + y)::text, 'trainee', (100000 + y / {years})::text,
    'L' || (y % {years} + 1) || ' ' || substr(md5('y' || y), 1, 6), '', NULL, NULL, y
    FROM generate_series(0, {programmes} * {years} - 1) y;
INSERT INTO gen_resource SELECT (120000 + g)::text, 'trainee', (110000 + g / {groups})::text,
    'Groupe TD ' || (g % {groups} + 1) || ' ' || substr(md5('g' || g), 1, 5), '', NULL, NULL, g
    FROM generate_series(0, {programmes} * {years} * {groups} - 1) g;
INSERT INTO gen_resource SELECT (200000 + d)::text, 'instructor', 'instructor',
    'Département ' || initcap(substr(md5('d' || d), 1, 9)), '', NULL, NULL, d
    FROM generate_series(0, {departments} - 1) d;
INSERT INTO gen_resource SELECT (210000 + i)::text, 'instructor', (200000 + i % {departments})::text,
    initcap(substr(md5('f' || i), 1, 7)) || ' ' || upper(substr(md5('l' || i), 1, 9)), '',
    substr(md5('f' || i), 1, 7) || '.' || substr(md5('l' || i), 1, 9) || '@example.edu', NULL, i
    FROM generate_series(0, {instructors} - 1) i;
INSERT INTO gen_resource SELECT (300000 + s)::text, 'classroom', 'classroom',
    upper(substr(md5('s' || s), 1, 3)) || '  -SITE ' || upper(substr(md5('s' || s), 4, 8)), '', NULL, NULL, s
    FROM generate_series(0, {sites} - 1) s;
INSERT INTO gen_resource SELECT (301000 + b)::text, 'classroom', (300000 + b % {sites})::text,
    'Bâtiment ' || upper(substr(md5('b' || b), 1, 10)), (1059000 + b)::text, NULL, NULL, b
    FROM generate_series(0, {buildings} - 1) b;
INSERT INTO gen_resource SELECT (310000 + r)::text, 'classroom', (301000 + r % {buildings})::text,
    'Salle ' || (r / {buildings}) || upper(substr(md5('r' || r), 1, 4)), '', NULL,
    CASE WHEN r % 4 <> 0 THEN jsonb_build_array(48.5 + (r % {buildings}) / 1000.0, 7.7 + (r % 37) / 1000.0, 0.0) END, r
    FROM generate_series(0, {rooms} - 1) r;
INSERT INTO gen_resource SELECT (400000 + f)::text, 'category5', 'category5',
    'UE ' || upper(substr(md5('uf' || f), 1, 6)), '', NULL, NULL, f
    FROM generate_series(0, {folders} - 1) f;
INSERT INTO gen_resource SELECT (410000 + j)::text, 'category5', (400000 + j % {folders})::text,
    'Matière ' || initcap(substr(md5('m' || j), 1, 12)), '', NULL, NULL, j
    FROM generate_series(0, {subjects} - 1) j;
CREATE INDEX ON gen_resource (parent);
ANALYZE gen_resource;

-- The node documents of docs/compatibility.md §4.3.1: genealogy from the root down, child refs in ADE order.
INSERT INTO schedulesy.resource (ext_id, category, parent_ext_id, name, code, email, fields, geolocation, position)
WITH RECURSIVE chain AS (
    SELECT ext_id, '[]'::jsonb AS genealogy, ARRAY[]::text[] AS path FROM gen_resource WHERE parent IS NULL
    UNION ALL
    SELECT c.ext_id,
           p.genealogy || jsonb_build_array(jsonb_build_object('id', p.ext_id, 'name', pr.name, 'code', pr.code)),
           CASE WHEN pr.parent IS NULL THEN ARRAY[]::text[] ELSE p.path || pr.name END
    FROM gen_resource c JOIN chain p ON c.parent = p.ext_id JOIN gen_resource pr ON pr.ext_id = p.ext_id
), kids AS (
    SELECT k.parent AS ext_id,
           jsonb_agg(jsonb_build_object('id', k.ext_id, 'name', k.name, 'code', k.code,
                     'has_children', EXISTS (SELECT 1 FROM gen_resource g WHERE g.parent = k.ext_id))
                     ORDER BY k.position) AS children
    FROM gen_resource k WHERE k.parent IS NOT NULL GROUP BY k.parent
)
SELECT r.ext_id, r.category, r.parent, r.name, r.code, r.email,
       CASE WHEN r.parent IS NULL THEN
           jsonb_build_object('tag', 'category', 'category', r.category, 'id', r.ext_id, 'name', r.name)
       ELSE
           jsonb_strip_nulls(jsonb_build_object(
               'tag', CASE WHEN kids.ext_id IS NULL THEN 'leaf' ELSE 'branch' END, 'id', r.ext_id,
               'name', r.name, 'category', r.category, 'path', array_to_string(chain.path, '.'),
               'code', nullif(r.code, ''), 'email', r.email, 'parent', r.parent, 'genealogy', chain.genealogy))
       END || CASE WHEN kids.ext_id IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('children', kids.children) END,
       r.geolocation, r.position
FROM gen_resource r JOIN chain USING (ext_id) LEFT JOIN kids USING (ext_id);
"""

EVENTS_SQL = """
-- Lectures (ids 1..L) are booked on a year group; tutorials (L+1..L+T) on one TD group.
CREATE TEMP TABLE gen_event AS
SELECT i AS event_id,
       CASE WHEN i <= {lectures} THEN (110000 + (i - 1) % ({programmes} * {years}))::text
            ELSE (120000 + (i - 1) % ({programmes} * {years} * {groups}))::text END AS group_id,
       (210000 + (i * 7919) % {instructors})::text AS instructor_id,
       (310000 + (i * 104729) % {rooms})::text AS room_id,
       (410000 + (i * 31) % {subjects})::text AS subject_id,
       ((i / 997) % 36) AS week, ((i / 13) % 5) AS day, ((i * 7) % 6) * 8 AS slot,
       CASE WHEN i % 3 = 0 THEN 6 ELSE 8 END AS slots
FROM generate_series(1::bigint, {lectures} + {tutorials}) i;

INSERT INTO schedulesy.event (event_id, activity_id, repetition, session, name, starts_at, ends_at, date,
                              start_hour, end_hour, duration, color, note, last_update, content_hash, sequence)
SELECT e.event_id, e.event_id / 10, e.event_id % 10, 0,
       CASE WHEN e.event_id <= {lectures} THEN 'CM ' ELSE 'TD ' END || s.name,
       t.local_start AT TIME ZONE 'Europe/Paris',
       (t.local_start + e.slots * interval '15 minutes') AT TIME ZONE 'Europe/Paris',
       to_char(t.local_start, 'DD/MM/YYYY'), to_char(t.local_start, 'HH24:MI'),
       to_char(t.local_start + e.slots * interval '15 minutes', 'HH24:MI'), e.slots,
       '#' || substr(md5(e.subject_id), 1, 6), CASE WHEN e.event_id % 50 = 0 THEN 'Salle modifiée' ELSE '' END,
       timestamptz '2025-08-01 10:00+02' + (e.event_id % 9000) * interval '17 minutes',
       md5(e.event_id::text), e.event_id % 3
FROM gen_event e
JOIN gen_resource s ON s.ext_id = e.subject_id
CROSS JOIN LATERAL (SELECT timestamp '2025-09-01 08:00' + (e.week * 7 + e.day) * interval '1 day'
                           + e.slot * interval '15 minutes' AS local_start) t;

INSERT INTO schedulesy.event_resource (event_id, resource_ext_id, category, name, position)
SELECT e.event_id, b.ext_id, r.category, r.name, b.position
FROM gen_event e
CROSS JOIN LATERAL (VALUES (e.group_id, 0), (e.instructor_id, 1), (e.room_id, 2), (e.subject_id, 3)) b(ext_id, position)
JOIN gen_resource r ON r.ext_id = b.ext_id;

-- A timetable shows what is booked on the resource and on its ancestors (the year's lectures
-- appear in every TD group of that year).
INSERT INTO schedulesy.timetable (resource_ext_id, event_id)
SELECT DISTINCT ext_id, event_id FROM (
    SELECT er.resource_ext_id AS ext_id, er.event_id FROM schedulesy.event_resource er
    UNION ALL
    SELECT g.ext_id, e.event_id FROM gen_event e JOIN gen_resource g ON g.parent = e.group_id
    WHERE e.event_id <= {lectures}
) shown;
"""

USERS_SQL = """
-- Students: 63 % their TD group, 18 % group + an option of their year, 9 % two groups of their
-- year; teachers (10 %): themselves, one in five adds a room.
INSERT INTO public.w_edtperso (id, ressources, uds_directory_id, uid, date_creation, date_personnalisation)
SELECT u, CASE
        WHEN u <= {users} * 0.63 THEN g::text
        WHEN u <= {users} * 0.81 THEN g::text || ',' || (410000 + ((g - 120000) / {groups} * 5 + u % 5) % {subjects})::text
        WHEN u <= {users} * 0.90 THEN g::text || ',' || (120000 + (g - 120000) / {groups} * {groups} + u % {groups})::text
        WHEN u % 5 = 0 THEN (210000 + u % {instructors})::text || ',' || (310000 + u % {rooms})::text
        ELSE (210000 + u % {instructors})::text END,
       'd' || u, 'user' || u, now(), now()
FROM generate_series(1, {users}) u
CROSS JOIN LATERAL (SELECT 120000 + (u * 7) % ({programmes} * {years} * {groups}) AS g) grp;
INSERT INTO schedulesy.access (key, username, name)
SELECT gen_random_uuid(), 'user' || u, 'user' || u FROM generate_series(1, {users}) u;
"""


def sizes(scale: float) -> dict[str, int]:
    def scaled(n: int) -> int:
        return max(1, round(n * scale))

    return {
        "programmes": scaled(PROGRAMMES), "years": YEARS, "groups": GROUPS_PER_YEAR,
        "departments": scaled(DEPARTMENTS), "instructors": scaled(INSTRUCTORS), "sites": SITES,
        "buildings": scaled(BUILDINGS), "rooms": scaled(ROOMS), "folders": scaled(FOLDERS),
        "subjects": scaled(SUBJECTS), "lectures": scaled(LECTURES), "tutorials": scaled(TUTORIALS),
        "users": scaled(USERS),
    }


async def generate(database_url: str, scale: float) -> dict[str, int]:
    conn = await db.connect(database_url)
    try:
        await conn.execute(
            """TRUNCATE public.w_edtperso, schedulesy.customization_config, schedulesy.access,
               schedulesy.timetable, schedulesy.event_resource, schedulesy.event, schedulesy.resource,
               schedulesy.change RESTART IDENTITY CASCADE"""
        )
        values = sizes(scale)
        async with conn.transaction():
            for sql in (RESOURCES_SQL, EVENTS_SQL, USERS_SQL):
                await conn.execute(sql.format(**values))
        await conn.execute("TRUNCATE schedulesy.change")
        await conn.execute("ANALYZE")
        counts = {}
        for name, table in (("resources", "schedulesy.resource"), ("events", "schedulesy.event"),
                            ("bookings", "schedulesy.event_resource"), ("timetable_rows", "schedulesy.timetable"),
                            ("users", "public.w_edtperso"), ("accesses", "schedulesy.access")):
            counts[name] = await conn.fetchval(f"SELECT count(*) FROM {table}")
        counts["distinct_selections"] = await conn.fetchval("SELECT count(DISTINCT ressources) FROM public.w_edtperso")
        return counts
    finally:
        await conn.close()


def start_redis() -> tuple[subprocess.Popen[bytes], str, str]:
    directory = tempfile.mkdtemp(prefix="bench-redis-")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", directory],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return process, f"redis://127.0.0.1:{port}/0", directory


async def redis_figures(redis: RedisClient, prefix: str) -> dict[str, object]:
    info = await redis.info("memory")
    families: Counter[str] = Counter()
    family_bytes: Counter[str] = Counter()
    keys = [k async for k in redis.scan_iter(match=prefix + "*", count=2000)]
    for start in range(0, len(keys), 2000):
        chunk = keys[start:start + 2000]
        pipe = redis.pipeline(transaction=False)
        for key in chunk:
            pipe.memory_usage(key, samples=0)
        for key, used in zip(chunk, await pipe.execute(), strict=True):
            family = key.decode()[len(prefix):].split(":", 1)[0]
            families[family] += 1
            family_bytes[family] += used or 0
    return {
        "used_memory_mb": round(info["used_memory"] / 2**20, 1),
        "dataset_mb": round(info.get("used_memory_dataset", 0) / 2**20, 1),
        "keys": dict(families),
        "mb_by_family": {k: round(v / 2**20, 1) for k, v in family_bytes.items()},
    }


async def run(args: argparse.Namespace) -> None:
    await db.ensure_database(args.database_url)
    await db.migrate(args.database_url)
    if not args.reuse:
        started = time.perf_counter()
        counts = await generate(args.database_url, args.scale)
        print(f"generated in {time.perf_counter() - started:.1f}s: {counts}", flush=True)
    redis_process, redis_url, redis_dir = start_redis()
    try:
        await asyncio.sleep(0.5)
        settings = load_settings({
            "SCHEDULESY_DATABASE_URL": args.database_url, "SCHEDULESY_REDIS_URL": redis_url,
            "SCHEDULESY_REDIS_PREFIX": "sch:", "SCHEDULESY_PUBLIC_URL": "https://edt.example.edu",
        })
        async with open_services(settings) as services:
            baseline = (await services.redis.info("memory"))["used_memory"]
            models = ReadModels(services)
            last_report = [0.0]

            def progress(done: int, total: int) -> None:
                now = time.perf_counter()
                if now - last_report[0] > 10 or done == total:
                    last_report[0] = now
                    print(f"  {done}/{total}", flush=True)

            started = time.perf_counter()
            report = await models.rebuild_all(progress)
            first = time.perf_counter() - started
            rss_mb = peak_rss_mib()
            figures = await redis_figures(services.redis, services.keys.prefix)
            print(f"full rebuild (empty Redis): {first:.1f}s, {report}")
            print(f"worker peak RSS: {rss_mb:.0f} MB")
            print(f"redis: baseline {baseline / 2**20:.1f} MB, after {figures}")

            started = time.perf_counter()
            report = await models.rebuild_all()
            print(f"full rebuild (nothing changed): {time.perf_counter() - started:.1f}s, {report}")

            # One lecture changes: every TD group of its year, its teacher, room and subject, and
            # every selection containing one of them, are rebuilt.
            await services.pool.execute(
                "UPDATE schedulesy.event SET name = name || ' (modifié)', sequence = sequence + 1 WHERE event_id = 7"
            )
            started = time.perf_counter()
            report = await models.apply({Topic.EVENT: {"7"}})
            print(f"apply(one lecture changed): {(time.perf_counter() - started) * 1000:.0f} ms, {report}")
            await services.pool.execute(
                "UPDATE schedulesy.event SET name = name || ' (modifié)', sequence = sequence + 1 WHERE event_id = 100007"
            )
            started = time.perf_counter()
            report = await models.apply({Topic.EVENT: {"100007"}})
            print(f"apply(one tutorial changed): {(time.perf_counter() - started) * 1000:.0f} ms, {report}")
    finally:
        redis_process.terminate()
        redis_process.wait()
        shutil.rmtree(redis_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("SCHEDULESY_BENCH_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--reuse", action="store_true", help="keep the generated mirror from a previous run")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
