"""A faithful ADE Campus Web API simulator, for tests, benchmarks and the demo."""
