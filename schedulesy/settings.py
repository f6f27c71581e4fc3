"""The one settings object, read from ``SCHEDULESY_*`` environment variables.

Every field of :class:`Settings` maps to the variable ``SCHEDULESY_<FIELD NAME IN UPPER CASE>``.
These names are a public interface: operators and scripts rely on them.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Literal, TypeAlias, get_args, get_origin

import msgspec

from schedulesy.categories import CLASSROOM

ENV_PREFIX = "SCHEDULESY_"
DEFAULT_CATEGORIES = (CLASSROOM, "instructor", "trainee", "category5")

# Under the prefix but not settings: the settings file's own variable, and the test suite's and
# benchmarks' variables (SCHEDULESY_TEST_DATABASE_URL, ...). Every other unknown name is a typo.
NOT_SETTINGS = (ENV_PREFIX + "ENV_FILE",)
TOOL_PREFIXES = (ENV_PREFIX + "TEST_", ENV_PREFIX + "BENCH_")
SPA_SHELL_NAMES = ("index.html", "base.html")
"""The front end's shell, in order of preference: a front-end build writes ``index.html``; the
original's Django template was ``base.html``."""


class _Duration:
    """Marks a number of seconds that its variable may also write ``300s``, ``5m`` or ``1h``."""


_DURATION = _Duration()
_DURATION_TEXT = re.compile(r"(\d+(?:\.\d+)?)([smh]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}

PositiveInt: TypeAlias = Annotated[int, msgspec.Meta(ge=1)]
Seconds: TypeAlias = Annotated[float, msgspec.Meta(gt=0), _DURATION]
NonNegativeSeconds: TypeAlias = Annotated[float, msgspec.Meta(ge=0), _DURATION]
Fraction: TypeAlias = Annotated[float, msgspec.Meta(ge=0, le=1)]


_URL_SCHEMES = {
    "database_url": ("postgresql", "postgres"),
    "redis_url": ("redis", "rediss", "unix"),
    "ade_url": ("http", "https"),
    "public_url": ("http", "https"),
}


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the environment variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything configurable. Defaults run the embedded demo with no configuration at all."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/schedulesy"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_mode: Literal["standalone", "cluster"] = "standalone"
    """``cluster``: ``redis_url`` names any node of a Redis (or Valkey) Cluster."""
    redis_prefix: str = "sch:"

    ade_url: str = "http://127.0.0.1:8090/jsp/webapi"
    ade_login: str = "schedulesy"
    ade_password: str = "schedulesy"
    ade_project_id: int = 1
    ade_categories: tuple[str, ...] = DEFAULT_CATEGORIES
    ade_connect_timeout: Seconds = 10.0
    ade_read_timeout: Seconds = 60.0
    ade_concurrency: PositiveInt = 4
    ade_retries: Annotated[int, msgspec.Meta(ge=0)] = 3

    poll_interval: Seconds = 300.0
    sync_near_weeks: PositiveInt = 3
    sync_far_interval: Seconds = 3600.0
    sync_nightly_hour: Annotated[int, msgspec.Meta(ge=0, le=23)] = 2
    sync_max_shrink: Fraction = 0.2
    sync_tree_interval: Seconds = 3600.0
    """How often the resource trees are checked (at once, too, when an event books an unknown resource)."""
    timetable_source: Literal["derived", "ade"] = "derived"
    """``derived``: events booked on a resource or an ancestor; ``ade``: ADE's per-resource answers."""

    amqp_url: str = ""
    """RabbitMQ carrying ADE's change messages (``amqp://user:password@host:5672/``); empty: polling only."""
    amqp_exchange: str = "schedulesy.sync"
    amqp_queue: str = "schedulesy.sync"
    amqp_routing_key: str = "schedulesy.sync.ade.*"
    sync_feed_near_interval: Seconds = 7200.0
    """While the change feed is trusted (docs/ade.md §5.9): how often the near term is probed anyway."""
    sync_feed_far_interval: Seconds = 86400.0
    """While the change feed is trusted: how often the rest of the year is probed."""
    sync_feed_full_days: PositiveInt = 7
    """While the change feed is trusted: the nightly full reconciliation runs every this many nights."""
    change_history_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 60
    """Days an event's recorded change is kept (and listed in the change feeds)."""
    smtp_url: str = ""
    """``smtp://[user:password@]host[:port]`` (STARTTLS when the server offers it) or ``smtps://``
    (TLS from the start); empty: no e-mail alerts."""
    mail_from: str = ""
    """The sender of alert mails; alerts are off unless both this and ``smtp_url`` are set."""
    notify_delay: Seconds = 600.0
    """At most one alert mail per user per this duration, summarising every change since the last."""

    timezone: str = "Europe/Paris"
    max_events: PositiveInt = 7000
    public_url: str = "http://127.0.0.1:8000"

    jwt_public_key: str = ""
    jwt_private_key: str = ""
    jwt_algorithm: Literal["RS256", "ES256", "HS256"] = "RS256"
    jwt_username_claim: str = "user_id"
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway: NonNegativeSeconds = 30.0
    superusers: tuple[str, ...] = ()

    cors_origins: tuple[str, ...] = ("*",)
    log_format: Literal["json", "console"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    buildings_file: str = ""
    max_body_bytes: PositiveInt = 65536
    spa_dir: str = ""
    """A built front-end directory to host (its shell and ``/site_media/`` assets); empty: none."""
    demo_user: str = ""
    """Set by ``schedulesy demo``: the landing page ``/`` links this user's pages."""

    def __post_init__(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"{env_name('timezone')}: unknown time zone {self.timezone!r}"
            ) from None
        if "," in self.redis_url and self.redis_mode != "cluster":
            raise SettingsError(
                f"{env_name('redis_url')}: several nodes need {env_name('redis_mode')}=cluster, got {self.redis_url!r}")
        for name, schemes in _URL_SCHEMES.items():
            value: str = getattr(self, name)
            if "://" not in value:
                raise SettingsError(f"{env_name(name)}: expected a URL, got {value!r}")
            if value.partition("://")[0].lower() not in schemes:
                expected = ", ".join(f"{scheme}://" for scheme in schemes)
                raise SettingsError(f"{env_name(name)}: expected a URL starting with {expected}, got {value!r}")
        if self.smtp_url and self.smtp_url.partition("://")[0].lower() not in ("smtp", "smtps"):
            raise SettingsError(f"{env_name('smtp_url')}: expected a URL starting with smtp:// or smtps://, "
                                f"got {self.smtp_url.partition('://')[0]!r}")
        if self.spa_dir and not self.spa_dir.strip():
            raise SettingsError(f"{env_name('spa_dir')}: expected a directory, got only spaces")
        if self.amqp_url and self.amqp_url.partition("://")[0].lower() not in ("amqp", "amqps"):
            raise SettingsError(f"{env_name('amqp_url')}: expected a URL starting with amqp:// or amqps://")
        if not self.ade_categories:
            raise SettingsError(f"{env_name('ade_categories')}: at least one category is needed")

    @property
    def public_base(self) -> str:
        """``SCHEDULESY_PUBLIC_URL`` without a trailing slash, ready to prefix paths."""
        return self.public_url.rstrip("/")

    @property
    def mail_enabled(self) -> bool:
        """E-mail alerts are on: an SMTP server and a sender are configured."""
        return bool(self.smtp_url and self.mail_from)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def spa_shell(self) -> Path | None:
        """The shell of the front end in ``SCHEDULESY_SPA_DIR`` (None when unset), or
        :class:`SettingsError` when the directory is missing, unreadable or has no shell.

        Checked by ``serve`` only, before forking its workers: other commands never read the directory.
        """
        if not self.spa_dir:
            return None
        variable, directory = env_name("spa_dir"), Path(self.spa_dir)
        hint = "give the built front end's directory"
        try:
            names = set(os.listdir(directory))
        except OSError as exc:
            raise SettingsError(f"{variable}: cannot read {self.spa_dir!r}: {exc.strerror}; {hint}") from None
        for name in SPA_SHELL_NAMES:
            if name in names and (directory / name).is_file() and os.access(directory / name, os.R_OK):
                return directory / name
        raise SettingsError(f"{variable}: {self.spa_dir!r} has no readable {' or '.join(SPA_SHELL_NAMES)}; {hint}")


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


_FIELDS = msgspec.structs.fields(Settings)
_TUPLE_FIELDS = {f.name for f in _FIELDS if str(f.type).startswith("tuple")}
_CHOICES = {f.name: get_args(f.type) for f in _FIELDS if get_origin(f.type) is Literal}
_DURATION_BOUNDS = {
    f.name: next(m for m in get_args(f.type) if isinstance(m, msgspec.Meta))
    for f in _FIELDS if _DURATION in get_args(f.type)
}


def _read_env_file(path: str) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines (``#`` comments, optional quotes): the optional settings file."""
    values: dict[str, str] = {}
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise SettingsError(f"{ENV_PREFIX}ENV_FILE: cannot read {path!r}: {exc.strerror}") from None
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate settings; raise :class:`SettingsError` naming the faulty variable.

    Unknown ``SCHEDULESY_*`` variables are reported on stderr at once, rendered as the logs will be:
    logging is configured from these very settings, so it cannot exist yet.
    """
    environ = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    if environ.get(ENV_PREFIX + "ENV_FILE"):
        merged.update(_read_env_file(environ[ENV_PREFIX + "ENV_FILE"]))
    merged.update(environ)
    _report_unknown_variables(merged)
    known = {f.name for f in _FIELDS}
    raw: dict[str, object] = {}
    for key, value in merged.items():
        if not key.startswith(ENV_PREFIX) or key in NOT_SETTINGS:
            continue
        field = key[len(ENV_PREFIX):].lower()
        if field in known:
            raw[field] = _from_text(field, value)
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_the_variable(str(exc))) from None


def _from_text(field: str, text: str) -> object:
    """The variable's text as its field expects it, for what msgspec cannot read or explain well."""
    if field in _TUPLE_FIELDS:
        return tuple(item.strip() for item in text.split(",") if item.strip())
    if field in _CHOICES and text not in _CHOICES[field]:
        allowed = ", ".join(str(choice) for choice in _CHOICES[field])
        raise SettingsError(f"{env_name(field)}: {text!r} is not one of {allowed}")
    if field in _DURATION_BOUNDS:
        return _parse_duration(field, text)
    return text


def _parse_duration(field: str, text: str) -> float:
    """Seconds from ``300``, ``300s``, ``5m``, ``1h`` (or ``1.5h``), within the field's bounds."""
    match = _DURATION_TEXT.fullmatch(text.strip())
    if match is None:
        raise SettingsError(f"{env_name(field)}: expected a duration such as 300, 300s, 5m or 1h, got {text!r}")
    seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    bounds = _DURATION_BOUNDS[field]
    if (bounds.gt is not None and seconds <= bounds.gt) or (bounds.ge is not None and seconds < bounds.ge):
        above = f"more than {bounds.gt:g}" if bounds.gt is not None else f"at least {bounds.ge:g}"
        raise SettingsError(f"{env_name(field)}: expected {above} seconds, got {text!r}")
    return seconds


def unknown_variables(names: Iterable[str]) -> list[tuple[str, str | None]]:
    """The ``SCHEDULESY_*`` names that are no setting, each with the closest setting (or None)."""
    fields = [f.name for f in _FIELDS]
    unknown: list[tuple[str, str | None]] = []
    for name in sorted(names):
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS or name.startswith(TOOL_PREFIXES):
            continue
        field = name[len(ENV_PREFIX):].lower()
        if field not in fields:
            closest = difflib.get_close_matches(field, fields, n=1)
            unknown.append((name, env_name(closest[0]) if closest else None))
    return unknown


def _report_unknown_variables(merged: Mapping[str, str]) -> None:
    unknown = unknown_variables(merged)
    if not unknown:
        return
    from schedulesy.logging import standalone_logger

    log_format = merged.get(env_name("log_format"), "")
    log_level = merged.get(env_name("log_level"), "")
    log = standalone_logger(
        log_format if log_format in _CHOICES["log_format"] else "console",
        log_level if log_level in _CHOICES["log_level"] else "info",
    )
    for name, closest in unknown:
        hint = {"did_you_mean": closest} if closest else {}
        log.warning("settings.unknown_variable", variable=name, detail="not a setting: ignored", **hint)


def _name_the_variable(message: str) -> str:
    """Turn msgspec's ``... - at `$.poll_interval``` into a message naming the variable."""
    if "`$." in message:
        text, _, path = message.rpartition(" - at `$.")
        field = path.rstrip("`").split("[")[0].split(".")[0]
        return f"{env_name(field)}: {text}"
    return message


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, validated once."""
    return load_settings()
