"""The one settings object, read from ``SCHEDULESY_*`` environment variables.

Every field of :class:`Settings` maps to the variable ``SCHEDULESY_<FIELD NAME IN UPPER CASE>``.
These names are a public interface: operators and scripts rely on them.
"""

from __future__ import annotations

import functools
import os
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

ENV_PREFIX = "SCHEDULESY_"
DEFAULT_CATEGORIES = ("classroom", "instructor", "trainee", "category5")

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the environment variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything configurable. Defaults run the embedded demo with no configuration at all."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/schedulesy"
    redis_url: str = "redis://127.0.0.1:6379/0"
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

    timezone: str = "Europe/Paris"
    max_events: PositiveInt = 7000
    public_url: str = "http://127.0.0.1:8000"

    jwt_public_key: str = ""
    jwt_private_key: str = ""
    jwt_algorithm: Literal["RS256", "ES256", "HS256"] = "RS256"
    jwt_username_claim: str = "user_id"
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    superusers: tuple[str, ...] = ()

    cors_origins: tuple[str, ...] = ("*",)
    log_format: Literal["json", "console"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    buildings_file: str = ""
    max_body_bytes: PositiveInt = 65536

    def __post_init__(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"{env_name('timezone')}: unknown time zone {self.timezone!r}"
            ) from None
        for name in ("database_url", "redis_url", "ade_url", "public_url"):
            if "://" not in getattr(self, name):
                raise SettingsError(f"{env_name(name)}: expected a URL, got {getattr(self, name)!r}")
        if not self.ade_categories:
            raise SettingsError(f"{env_name('ade_categories')}: at least one category is needed")

    @property
    def public_base(self) -> str:
        """``SCHEDULESY_PUBLIC_URL`` without a trailing slash, ready to prefix paths."""
        return self.public_url.rstrip("/")

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def jwt_key(self, which: Literal["public", "private"]) -> str:
        """The key text; the variable holds PEM text (or an HS256 secret) or a path to a file."""
        value = self.jwt_public_key if which == "public" else self.jwt_private_key
        if value and not value.lstrip().startswith("-----") and Path(value).is_file():
            return Path(value).read_text()
        return value


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


_TUPLE_FIELDS = {
    f.name for f in msgspec.structs.fields(Settings) if str(f.type).startswith("tuple")
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
    """Build and validate settings; raise :class:`SettingsError` naming the faulty variable."""
    environ = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    if environ.get(ENV_PREFIX + "ENV_FILE"):
        merged.update(_read_env_file(environ[ENV_PREFIX + "ENV_FILE"]))
    merged.update(environ)
    known = {f.name for f in msgspec.structs.fields(Settings)}
    raw: dict[str, object] = {}
    for key, value in merged.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "ENV_FILE":
            continue
        field = key[len(ENV_PREFIX):].lower()
        if field not in known:
            continue  # other tools share the prefix (SCHEDULESY_TEST_*); unknown names are not ours
        if field in _TUPLE_FIELDS:
            raw[field] = tuple(item.strip() for item in value.split(",") if item.strip())
        else:
            raw[field] = value
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_the_variable(str(exc))) from None


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
