"""schemathesis against the app's own OpenAPI description: every check, a few examples per operation.

Each operation is one test (generated valid and invalid requests, all of schemathesis's checks,
a valid Bearer token), so a violation names the operation. Examples are few and derandomized: the
test stays fast and gives the same answer on every run.
"""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans

from schedulesy.app import create_app
from schedulesy.settings import Settings
from tests.fixtures.auth import TokenFactory, auth_header
from tests.fixtures.infra import replace_settings

MAX_EXAMPLES = 12
SUPERUSER_PATHS = ("/api/admin/", "/api/info/")

CONFIG = {
    "operations": [
        # Answers whose 5xx is the documented meaning, not a server error: not ready (503), the
        # original's health page with a critical check failing (500), a failed ADE sync (503).
        {"include-path": "/health/ready", "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "503"]}}},
        {"include-path": "/_hc", "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "500"]}}},
        {"include-path": "/api/admin/sync",
         "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "4xx", "503"]}}},
        # OpenAPI cannot say "this optional filter is needed": without `email` the original's 412.
        {"include-path": "/api/instructor.json", "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "403", "412"]},
            "negative_data_rejection": {"expected-statuses": ["400", "403", "412"]},
        }},
    ]
}


def _operation_labels() -> list[str]:
    document = create_app(Settings(log_level="warning")).openapi_schema.to_schema()
    return [f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item]


@pytest.fixture(scope="module")
def api_schema(base_settings: Settings) -> Iterator[schemathesis.BaseSchema]:
    """The schema as the app serves it, bound to the app (called in-process, its lifespan running)."""
    settings = replace_settings(base_settings, ade_url="http://127.0.0.1:9/jsp/webapi", ade_retries=0)
    config = schemathesis.Config.from_dict(CONFIG)
    yield schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(settings), config=config)
    shutdown_lifespans()


@pytest.mark.parametrize("label", _operation_labels())
def test_the_operation_conforms_to_its_schema(
    api_schema: schemathesis.BaseSchema, make_token: TokenFactory, pool: object, redis: object, label: str
) -> None:
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    superuser = path.startswith(SUPERUSER_PATHS)
    headers = auth_header(make_token("admin", superuser=True) if superuser else make_token("jdupont", directory_id="1"))
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @hypothesis.settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                             phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers)

        try:
            conforms()
        except hypothesis.errors.Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, "a valid request must exist"  # else: nothing to violate
