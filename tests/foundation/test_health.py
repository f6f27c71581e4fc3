import msgspec
from litestar.testing import AsyncTestClient

from schedulesy.app import create_app
from schedulesy.changes import Projection, Topic
from schedulesy.settings import Settings

DEAD_REDIS = "redis://127.0.0.1:1/0"


async def test_liveness_answers(api: AsyncTestClient) -> None:
    response = await api.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def report_worker_and_sync(pool) -> None:
    await pool.execute(
        "INSERT INTO schedulesy.projector_checkpoint (projection, heartbeat_at) VALUES ($1, now())",
        Projection.READ_MODELS,
    )
    await pool.execute("INSERT INTO schedulesy.sync_state (name, last_success_at) VALUES ('cycle', now())")


async def test_readiness_stays_200_degraded_naming_redis_when_redis_is_unreachable(settings: Settings, pool) -> None:
    await report_worker_and_sync(pool)
    broken = msgspec.structs.replace(settings, redis_url=DEAD_REDIS)
    async with AsyncTestClient(app=create_app(broken)) as client:
        response = await client.get("/health/ready")
        legacy = await client.get("/_hc/?format=json")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["degraded"] is True
    assert "Postgres" in body["checks"]["redis"]["detail"]
    assert body["checks"]["postgres"] == {"ok": True}
    assert legacy.status_code == 200 and legacy.json()["RedisHealthCheck"] != "working"


async def test_without_redis_the_projection_lag_only_degrades(settings: Settings, pool) -> None:
    """Reads come from Postgres then: what the projector has not yet written to Redis cannot make them wrong."""
    await report_worker_and_sync(pool)
    await pool.execute("UPDATE schedulesy.projector_checkpoint SET pending_since = now() - interval '10 minutes'")
    broken = msgspec.structs.replace(settings, redis_url=DEAD_REDIS)
    async with AsyncTestClient(app=create_app(broken)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["projection_lag"]["degraded"] is True


async def test_a_worker_that_stopped_beating_still_fails_readiness(api: AsyncTestClient, pool) -> None:
    await report_worker_and_sync(pool)
    await pool.execute("UPDATE schedulesy.projector_checkpoint SET heartbeat_at = now() - interval '5 minutes'")
    response = await api.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "failing"
    assert response.json()["checks"]["worker"]["ok"] is False


async def test_readiness_is_200_when_worker_and_sync_report(api: AsyncTestClient, pool) -> None:
    await report_worker_and_sync(pool)
    response = await api.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
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
        "INSERT INTO schedulesy.change (topic, key, created_at) VALUES ($1, 'a', now() - interval '10 minutes')",
        Topic.USER,
    )
    await pool.execute(
        "INSERT INTO schedulesy.projector_checkpoint (projection, heartbeat_at, pending_since)"
        " VALUES ($1, now(), NULL)",
        Projection.READ_MODELS,
    )
    assert await projection_lag_seconds(services) == 0.0
    await pool.execute("UPDATE schedulesy.projector_checkpoint SET heartbeat_at = now() - interval '1 hour'")
    assert await projection_lag_seconds(services) >= 600


async def test_lag_counts_the_changes_logged_since_the_leaders_last_report(services, pool) -> None:
    """A leader killed right after reporting "caught up" looks alive until its heartbeat is stale:
    what was logged after that report is pending all the same."""
    from queries.health import projection_lag_seconds

    await pool.execute(
        "INSERT INTO schedulesy.projector_checkpoint (projection, heartbeat_at, pending_since)"
        " VALUES ($1, now() - interval '20 seconds', NULL)", Projection.READ_MODELS,
    )
    assert await projection_lag_seconds(services) == 0.0
    await pool.execute(
        "INSERT INTO schedulesy.change (topic, key, created_at)"
        " SELECT $1, 'u' || n, now() - interval '15 seconds' FROM generate_series(1, 250) AS n", Topic.USER,
    )
    assert await projection_lag_seconds(services) >= 15


async def test_a_failing_ade_sync_is_named_while_the_last_good_data_stays_servable(api: AsyncTestClient, pool) -> None:
    await pool.execute(
        "INSERT INTO schedulesy.sync_state (name, last_success_at, last_error) VALUES ('cycle', now(), 'HTTP 503')"
    )
    body = (await api.get("/health/ready")).json()
    assert body["checks"]["ade_sync"]["ok"] is True
    assert "HTTP 503" in body["checks"]["ade_sync"]["detail"]
    legacy = (await api.get("/_hc/", headers={"Accept": "application/json"})).json()
    assert "HTTP 503" in legacy["ADEWebAPI"]


async def test_a_new_deployment_is_not_ready_before_its_first_ade_sync(api: AsyncTestClient, pool) -> None:
    """As the README tells operators: no timetable to serve yet."""
    await pool.execute(
        "INSERT INTO schedulesy.projector_checkpoint (projection, heartbeat_at) VALUES ($1, now())",
        Projection.READ_MODELS,
    )
    response = await api.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["ade_sync"] == {"ok": False, "detail": "no successful ADE sync yet"}
