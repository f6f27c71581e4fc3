"""The migrated triggers log only the topics of ``schedulesy.changes.Topic`` and notify only its channel.

SQL cannot import the Python names: this reads what the migrations really installed.
"""

from __future__ import annotations

import re

import asyncpg

from schedulesy.changes import CHANNEL, Topic

# Every trigger of the database whose function writes the change log, with its arguments.
_LOGGING_TRIGGERS = """
SELECT t.tgrelid::regclass::text AS target, t.tgname AS name, t.tgargs AS args
FROM pg_trigger t
JOIN pg_proc p ON p.oid = t.tgfoid
WHERE NOT t.tgisinternal AND p.prosrc ~* 'insert\\s+into\\s+schedulesy\\.change\\M'
"""

_FUNCTION_SOURCES = """
SELECT n.nspname || '.' || p.proname AS name, p.prosrc AS source
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('schedulesy', 'public') AND p.prosrc ~* 'pg_notify'
"""

NOTIFIED_CHANNEL = re.compile(r"pg_notify\s*\(\s*([^,]*?)\s*,", re.IGNORECASE)


def trigger_arguments(raw: bytes) -> list[str]:
    """``pg_trigger.tgargs``: the arguments, each ended by a NUL byte."""
    return raw.decode().split("\x00")[:-1]


async def test_every_logging_trigger_logs_a_topic_of_the_enum_and_each_table_topic_is_logged(
    pool: asyncpg.Pool,
) -> None:
    triggers = await pool.fetch(_LOGGING_TRIGGERS)
    assert triggers, "the migrations install the change-log triggers"
    topics: dict[str, str] = {}
    for trigger in triggers:
        topic = trigger_arguments(trigger["args"])[0]  # TG_ARGV[0] is the topic
        assert topic in set(Topic), f"{trigger['target']} ({trigger['name']}) logs the unknown topic {topic!r}"
        topics[trigger["target"]] = topic
    # The rebuild topic is the admin command's; every other one comes from a table's triggers.
    assert set(topics.values()) == set(Topic) - {Topic.REBUILD}
    assert topics["w_edtperso"] == Topic.USER


async def test_every_notify_of_the_migrations_uses_the_change_channel(pool: asyncpg.Pool) -> None:
    channels = {
        (function["name"], channel)
        for function in await pool.fetch(_FUNCTION_SOURCES)
        for channel in NOTIFIED_CHANNEL.findall(function["source"])
    }
    assert {name for name, _ in channels} >= {"schedulesy.log_row_change", "schedulesy.log_statement_change"}
    assert {channel for _, channel in channels} == {f"'{CHANNEL}'"}
