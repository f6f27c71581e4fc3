import msgspec
from litestar.testing import AsyncTestClient

from schedulesy.app import create_app
from schedulesy.changes import Projection, Topic
from schedulesy.settings import Settings


async def test_liveness_answers(api: AsyncTestClient) -> None:
    response = await api.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_is_503_naming_redis_when_redis_is_unreachable(settings: Settings, pool) -> None:
    broken = msgspec.structs.replace(settings, redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=create_app(broken)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["postgres"]["ok"] is True


async def test_readiness_is_200_when_worker_and_sync_report(api: AsyncTestClient, pool) -> None:
    await pool.execute(
        "INSERT INTO schedulesy.projector_checkpoint (projection, heartbeat_at) VALUES ($1, now())",
        Projection.READ_MODELS,
    )
    await pool.execute("INSERT INTO schedulesy.sync_state (name, last_success_at) VALUES ('cycle', now())")
    response = await api.get("/health/ready")
    assert response.status_code == 200, response.text
    assert all(check["ok"] for check in response.json()["checks"].values())


async def test_the_original_health_check_shape_is_kept(api: AsyncTestClient) -> None:
    response = await api.get("/_hc/?format=json")
    body = response.json()
    assert body["DatabaseBackend"] == "working"
    assert body["RedisHealthCheck"] == "working"
    assert response.status_code == 200  # worker and ADE checks are not critical


async def test_metrics_are_in_prometheus_format(api: AsyncTestClient) -> None:
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert "schedulesy_projection_lag_seconds" in response.text


async def test_unknown_paths_get_a_json_404(api: AsyncTestClient) -> None:
    response = await api.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_the_openapi_schema_is_served(api: AsyncTestClient) -> None:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Schedulesy"


async def test_lag_is_the_leaders_own_measure_while_it_beats(services, pool) -> None:
    from queries.health import projection_lag_seconds

    await pool.execute(
        "INSERT INTO schedulesy.change (topic, key, created_at) VALUES ($1, 'a', now() - interval '10 minutes')", Topic.USER
    )
    await pool.execute(
        "INSERT INTO schedulesy.projector_checkpoint (projection, heartbeat_at, pending_since) VALUES ($1, now(), NULL)",
        Projection.READ_MODELS,
    )
    assert await projection_lag_seconds(services) == 0.0
    await pool.execute("UPDATE schedulesy.projector_checkpoint SET heartbeat_at = now() - interval '1 hour'")
    assert await projection_lag_seconds(services) >= 600


async def test_a_failing_ade_sync_is_named_while_the_last_good_data_stays_servable(api: AsyncTestClient, pool) -> None:
    await pool.execute(
        "INSERT INTO schedulesy.sync_state (name, last_success_at, last_error) VALUES ('cycle', now(), 'HTTP 503')"
    )
    body = (await api.get("/health/ready")).json()
    assert body["checks"]["ade_sync"]["ok"] is True
    assert "HTTP 503" in body["checks"]["ade_sync"]["detail"]
    legacy = (await api.get("/_hc/", headers={"Accept": "application/json"})).json()
    assert "HTTP 503" in legacy["ADEWebAPI"]
