"""ADE Campus: the async Web API client and its typed answers.

- :mod:`schedulesy.ade.client` — :class:`~schedulesy.ade.client.AdeClient` (sessions, re-login,
  timeouts, bounded concurrency, retries, request counters) and its exceptions;
- :mod:`schedulesy.ade.models` — the typed answers (resource nodes, events, projects);
- :mod:`schedulesy.ade.xml` and :mod:`schedulesy.ade.dates` — parsing raw bytes and ADE's three
  date formats.

The ADE simulator lives apart, in :mod:`schedulesy.adesim`: it never imports this package, so it
stays an independent oracle of the protocol.
"""
