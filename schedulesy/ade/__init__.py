"""ADE Campus: the async Web API client, its typed answers, and the simulator.

- :mod:`schedulesy.ade.client` — :class:`~schedulesy.ade.client.AdeClient` (sessions, re-login,
  timeouts, bounded concurrency, retries, request counters) and its exceptions;
- :mod:`schedulesy.ade.models` — the typed answers (resource nodes, events, projects);
- :mod:`schedulesy.ade.xml` and :mod:`schedulesy.ade.dates` — parsing raw bytes and ADE's three
  date formats;
- :mod:`schedulesy.ade.simulator` — a faithful ADE simulator for tests, benchmarks and the demo.

The package itself imports nothing, so the simulator does not pull in the client and vice versa.
"""
