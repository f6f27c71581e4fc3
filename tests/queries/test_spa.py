"""Hosting the original's built front end (``SCHEDULESY_SPA_DIR``): shell on the history routes,
assets under ``/site_media/`` (docs/compatibility.md §1.1, §7.6)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from queries.spa import HASHED_CACHE_CONTROL, PLAIN_CACHE_CONTROL, load_front_end, requested_name
from schedulesy.app import create_app
from schedulesy.errors import StartupError
from schedulesy.settings import Settings, SettingsError
from tests.fixtures.infra import replace_settings

SHELL = b"<!doctype html><html><head><script src=/site_media/js/app.3f2a9c1b.js></script></head><body></body></html>"
SCRIPT = b"console.log('schedulesy front end');\n" * 200
STYLE = b"body { color: black; }\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
SECRET = b"never served"

HISTORY_ROUTES = (
    "/", "/config", "/consult/calendar", "/consult/list", "/auth/cas/logout",
    "/public/", "/public/1616", "/public/1616/week/2024-01-08", "/config/",
)


@pytest.fixture
def front_end_dir(tmp_path: Path) -> Path:
    """A small built-like front end, with a secret beside it and a symlink pointing at the secret."""
    (tmp_path / "secret").write_bytes(SECRET)
    root = tmp_path / "dist"
    (root / "js").mkdir(parents=True)
    (root / "css").mkdir()
    (root / "img" / "icons").mkdir(parents=True)
    (root / "index.html").write_bytes(SHELL)
    (root / "js" / "app.3f2a9c1b.js").write_bytes(SCRIPT)
    (root / "css" / "app.css").write_bytes(STYLE)
    (root / "img" / "icons" / "logo.png").write_bytes(PNG)
    (root / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    (root / ".env").write_bytes(SECRET)
    (root / "leak").symlink_to(tmp_path / "secret")
    (root / "outside").symlink_to(tmp_path)
    (root / "inside.js").symlink_to(root / "js" / "app.3f2a9c1b.js")
    return root


@pytest.fixture
async def hosted(settings: Settings, pool: object, redis: object, front_end_dir: Path) -> AsyncIterator[AsyncTestClient]:
    app = create_app(replace_settings(settings, spa_dir=str(front_end_dir)))
    async with AsyncTestClient(app=app, base_url="https://testserver") as client:
        yield client


@pytest.mark.parametrize("path", HISTORY_ROUTES)
async def test_history_routes_answer_the_shell(hosted: AsyncTestClient, path: str) -> None:
    response = await hosted.get(path)
    assert response.status_code == 200, path
    assert response.content == SHELL
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["etag"].startswith('"')


async def test_shell_is_revalidated_with_a_304(hosted: AsyncTestClient) -> None:
    first = await hosted.get("/consult/list")
    again = await hosted.get("/config", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["cache-control"] == "no-cache"


async def test_hashed_asset_is_cached_for_a_year_and_gzipped_when_asked(hosted: AsyncTestClient) -> None:
    plain = await hosted.get("/site_media/js/app.3f2a9c1b.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.content == SCRIPT
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert plain.headers["cache-control"] == HASHED_CACHE_CONTROL == "public, max-age=31536000, immutable"
    assert plain.headers["vary"] == "Accept-Encoding"
    assert plain.headers["x-content-type-options"] == "nosniff"

    zipped = await hosted.get("/site_media/js/app.3f2a9c1b.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(SCRIPT)
    assert zipped.content == SCRIPT  # httpx decodes it
    assert zipped.headers["etag"] != plain.headers["etag"]

    for etag in (plain.headers["etag"], zipped.headers["etag"]):
        cached = await hosted.get("/site_media/js/app.3f2a9c1b.js", headers={"If-None-Match": etag})
        assert cached.status_code == 304
        assert cached.headers["cache-control"] == HASHED_CACHE_CONTROL


async def test_other_assets_have_their_types_and_a_revalidated_cache(hosted: AsyncTestClient) -> None:
    expected = {
        "/site_media/css/app.css": ("text/css; charset=utf-8", STYLE),
        "/site_media/img/icons/logo.png": ("image/png", PNG),
        "/site_media/favicon.ico": ("image/x-icon", b"\x00\x00\x01\x00"),
        "/site_media/index.html": ("text/html; charset=utf-8", SHELL),
    }
    for path, (media_type, body) in expected.items():
        response = await hosted.get(path, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, path
        assert response.headers["content-type"] == media_type, path
        assert response.content == body, path
        assert response.headers["cache-control"] == PLAIN_CACHE_CONTROL == "public, no-cache", path
        assert "content-encoding" not in response.headers, path  # small, or not compressible
        again = await hosted.get(path, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304, path


async def test_a_symlink_inside_the_directory_is_served(hosted: AsyncTestClient) -> None:
    response = await hosted.get("/site_media/inside.js")
    assert response.status_code == 200
    assert response.content == SCRIPT


@pytest.mark.parametrize("path", [
    "/site_media/../secret",  # the client sends /secret: the raw form is tested with requested_name below
    "/site_media/%2e%2e/secret",
    "/site_media/%2E%2E/%2E%2E/secret",
    "/site_media/js/..%2f..%2fsecret",
    "/site_media/js%2fapp.3f2a9c1b.js",
    "/site_media/js%2Fapp.3f2a9c1b.js",
    "/site_media/js%5capp.3f2a9c1b.js",
    "/site_media//index.html",
    "/site_media/" + "/tmp/secret",
    "/site_media/leak",
    "/site_media/outside/secret",
    "/site_media/.env",
    "/site_media/missing.js",
])
async def test_no_path_leads_out_of_the_directory(hosted: AsyncTestClient, path: str) -> None:
    response = await hosted.get(path)
    assert response.status_code == 404, path
    assert SECRET not in response.content


@pytest.mark.parametrize("path", ["/site_media/js", "/site_media/js/", "/site_media/img/icons/", "/site_media/",
                                  "/site_media"])
async def test_directories_are_not_listed(hosted: AsyncTestClient, path: str) -> None:
    response = await hosted.get(path)
    assert response.status_code == 404, path
    assert b"app.3f2a9c1b.js" not in response.content


async def test_api_routes_win_over_the_shell(hosted: AsyncTestClient) -> None:
    assert (await hosted.get("/_hc/")).headers["content-type"].startswith(("application/json", "text/html"))
    assert (await hosted.get("/_hc/")).content != SHELL
    for path in ("/api/display_types.json", "/legacy/customization.json", "/api/calendar/jdupont.json"):
        response = await hosted.get(path)
        assert response.status_code == 403, path  # no token: the API answered, not the shell
    for path in ("/api/nothing", "/legacy/nothing", "/health/nothing"):
        response = await hosted.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json"), path
    assert (await hosted.get("/health/live")).content != SHELL
    assert (await hosted.get("/schema/openapi.json")).json()["openapi"]
    assert (await hosted.get("/metrics")).content != SHELL


@pytest.mark.parametrize("path", ["/config", "/consult/calendar", "/consult/list", "/site_media/js/app.3f2a9c1b.js"])
async def test_without_the_setting_these_routes_stay_404_json(api: AsyncTestClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("problem", ["missing", "a file", "no shell"])
def test_an_unusable_directory_stops_the_start_naming_the_variable(
    settings: Settings, tmp_path: Path, problem: str
) -> None:
    directory = tmp_path / "dist"
    if problem == "a file":
        directory.write_text("not a directory")
    elif problem == "no shell":
        (directory / "js").mkdir(parents=True)
        (directory / "js" / "app.js").write_text("1")
    configured = replace_settings(settings, spa_dir=str(directory))
    with pytest.raises(SettingsError, match="^SCHEDULESY_SPA_DIR: ") as raised:
        configured.spa_shell()
    assert "\n" not in str(raised.value)
    with pytest.raises(StartupError, match="^SCHEDULESY_SPA_DIR: "):
        create_app(configured)


def test_serve_stops_with_one_line_naming_the_variable(tmp_path: Path, jwt_keys: tuple[str, str]) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SCHEDULESY_")}
    env.update({"SCHEDULESY_JWT_PUBLIC_KEY": jwt_keys[1], "SCHEDULESY_SPA_DIR": str(tmp_path / "absent"),
                "SCHEDULESY_LOG_LEVEL": "warning"})
    result = subprocess.run([sys.executable, "-m", "schedulesy.cli", "serve", "--port", "1"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("schedulesy serve: SCHEDULESY_SPA_DIR: cannot read"), lines[0]


def test_only_the_regular_files_inside_the_directory_can_be_served(settings: Settings, front_end_dir: Path) -> None:
    served = load_front_end(replace_settings(settings, spa_dir=str(front_end_dir))).assets
    assert set(served) == {"index.html", "favicon.ico", "inside.js", "js/app.3f2a9c1b.js", "css/app.css",
                           "img/icons/logo.png"}


@pytest.mark.parametrize(("raw_path", "name"), [
    (b"/site_media/js/app.3f2a9c1b.js", "js/app.3f2a9c1b.js"),
    (b"/site_media/img/a%20b.png?v=1", "img/a b.png"),
    (b"/site_media/../secret", "../secret"),  # no such key: a 404
    (b"/site_media/%2e%2e/secret", "../secret"),
    (b"/site_media/js%2fapp.js", None),
    (b"/site_media/js%5Capp.js", None),
    (b"/site_media//etc/passwd", None),
    (b"/site_media/js//app.js", None),
    (b"/site_media/%ff", None),
])
def test_the_asset_name_is_read_from_the_raw_path(raw_path: bytes, name: str | None) -> None:
    assert requested_name({"raw_path": raw_path, "path": "/ignored"}) == name


def test_the_original_base_html_is_a_shell_too(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "base.html").write_bytes(SHELL)
    assert load_front_end(replace_settings(settings, spa_dir=str(tmp_path))).shell.body == SHELL
