"""Cross-cutting HTTP behaviour: CORS, error bodies, the request log."""

from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from schedulesy.errors import EXCEPTION_HANDLERS

from schedulesy.requestlog import _printable


async def test_cors_echoes_the_origin_with_credentials(api: AsyncTestClient) -> None:
    response = await api.options(
        "/health/live",
        headers={"Origin": "https://front.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.headers["access-control-allow-origin"] == "https://front.example"
    assert response.headers["access-control-allow-credentials"] == "true"
    simple = await api.get("/health/live", headers={"Origin": "https://front.example"})
    assert simple.headers["access-control-allow-origin"] == "https://front.example"
    assert "origin" in simple.headers.get("vary", "").lower()


async def test_a_validation_error_does_not_echo_a_huge_url() -> None:
    @get("/count", sync_to_thread=False)
    def count(n: int) -> int:
        return n

    app = Litestar(route_handlers=[count], exception_handlers=EXCEPTION_HANDLERS)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/count", params={"n": "x", "padding": "y" * 20000})
    assert response.status_code == 400
    assert len(response.content) < 2000
    assert response.json()["code"] == "bad_request"
    assert response.json()["errors"][0]["key"] == "n"


def test_control_characters_never_reach_a_log_line_raw() -> None:
    assert _printable("/legacy/customization/\x00.json") == "/legacy/customization/\\x00.json"
    assert _printable("/api/resource/1.json") == "/api/resource/1.json"
