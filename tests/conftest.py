"""Root fixtures: each plugin below owns one kind of test infrastructure."""

pytest_plugins = [
    "tests.fixtures.infra",
    "tests.fixtures.cluster",
    "tests.fixtures.ade",
    "tests.fixtures.auth",
    "tests.fixtures.seeded",
    "tests.fixtures.reads",
    "tests.fixtures.sync",
    "tests.fixtures.amqp",
    "tests.fixtures.original",
    "tests.fixtures.smtp",
    "tests.fixtures.browser",
]
