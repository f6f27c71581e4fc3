"""Root fixtures: each plugin below owns one kind of test infrastructure."""

pytest_plugins = [
    "tests.fixtures.infra",
    "tests.fixtures.ade",
    "tests.fixtures.auth",
    "tests.fixtures.seeded",
    "tests.fixtures.reads",
    "tests.fixtures.sync",
    "tests.fixtures.original",
    "tests.fixtures.browser",
]
