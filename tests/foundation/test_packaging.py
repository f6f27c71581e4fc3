"""The installed package, not the checkout: a wheel must carry everything the code reads at run time."""

import os
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _build_inputs() -> list[str]:
    """What a wheel is built from: the project files and the package folders pyproject names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [pattern.rstrip("*") for pattern in config["tool"]["setuptools"]["packages"]["find"]["include"]]
    return ["pyproject.toml", "README.md", "LICENSE", "sql", *packages]


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


async def test_a_wheel_installed_outside_the_checkout_creates_every_table(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    # Built from a copy: an in-tree build would reuse (and leave) build/ in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in _build_inputs():
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    # What `pip wheel --no-build-isolation` does, minus pip's own start-up: call the build backend.
    built = _run(sys.executable, "-c", "import sys, setuptools.build_meta as b; b.build_wheel(sys.argv[1])",
                 tmp_path / "dist", cwd=source)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("schedulesy-*.whl")
    site = tmp_path / "site"
    installed = _run(sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-compile", "-q",
                     "--target", site, wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    # The pages' templates and static files travel in the wheel (no build step, served from the package).
    for name in ("templates/timetable.html", "templates/base.html", "static/pages.css", "static/pages.js",
                 "static/embed.js"):
        assert (site / "queries" / "pages" / name).is_file(), name

    admin_url = server_urls[0]
    name = f"schedulesy_wheel_{uuid.uuid4().hex[:10]}"
    url = urlunsplit(urlsplit(admin_url)._replace(path="/" + name))
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        # PYTHONPATH comes before the checkout's editable finder; an empty cwd keeps the checkout out.
        env = {key: value for key, value in os.environ.items() if not key.startswith(("SCHEDULESY_", "PYTHON"))}
        env |= {"PYTHONPATH": str(site), "SCHEDULESY_DATABASE_URL": url}
        cwd = tmp_path / "elsewhere"
        cwd.mkdir()
        # The installed console script, run in a process that first says where schedulesy comes from.
        migrated = _run(sys.executable, "-c", (
            "import runpy, sys, schedulesy.db; print(schedulesy.db.__file__); script = sys.argv[1];"
            "sys.argv = ['schedulesy', 'migrate']; runpy.run_path(script, run_name='__main__')"
        ), site / "bin" / "schedulesy", cwd=cwd, env=env)
        assert migrated.returncode == 0, migrated.stderr
        module_file, _, summary = migrated.stdout.partition("\n")
        assert Path(module_file).is_relative_to(site)
        assert summary.startswith("applied: ")

        conn = await asyncpg.connect(url)
        try:
            tables = {
                f"{r['schemaname']}.{r['tablename']}"
                for r in await conn.fetch("SELECT schemaname, tablename FROM pg_tables")
            }
            recorded = await conn.fetchval("SELECT count(*) FROM schedulesy.migration")
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert {"public.w_edtperso", "schedulesy.change", "schedulesy.projector_checkpoint",
            "schedulesy.resource", "schedulesy.event", "schedulesy.access"} <= tables
    assert recorded == len([p for p in (ROOT / "sql").glob("*.sql") if not p.name.endswith(".always.sql")])


def _worker_healthcheck() -> list[str]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    command: list[str] = compose["services"]["worker"]["healthcheck"]["test"]
    return command


def test_the_worker_healthcheck_runs_python_in_the_image() -> None:
    command = _worker_healthcheck()
    assert command[:3] == ["CMD", "python", "-c"]
    assert "$" not in command[3], "compose would interpolate it"


@pytest.mark.parametrize(
    ("heartbeat", "healthy"),
    [("now()", True), ("now() - interval '1 minute'", False), (None, False)],
    ids=["fresh", "stale", "never"],
)
async def test_the_worker_healthcheck_follows_the_projector_heartbeat(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path, heartbeat: str | None, healthy: bool
) -> None:
    if heartbeat is not None:
        await pool.execute(
            f"INSERT INTO schedulesy.projector_checkpoint (projection, heartbeat_at) VALUES ('read_models', {heartbeat})"
        )
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCHEDULESY_")}
    env["SCHEDULESY_DATABASE_URL"] = database_url
    checked = _run(sys.executable, *_worker_healthcheck()[2:], cwd=tmp_path, env=env)
    assert (checked.returncode == 0) is healthy, checked.stderr
