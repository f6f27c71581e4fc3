"""Root fixtures: each plugin below owns one kind of test infrastructure."""

import importlib.util

pytest_plugins = [
    plugin
    for plugin in ("tests.fixtures.infra", "tests.fixtures.ade", "tests.fixtures.auth")
    if importlib.util.find_spec(plugin) is not None
]
