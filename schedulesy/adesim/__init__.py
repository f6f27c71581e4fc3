"""A faithful ADE Campus Web API simulator serving a synthetic university, for tests, benchmarks and the demo.

It never imports the client package :mod:`schedulesy.ade` (a test enforces it): the simulator is the
independent oracle of the protocol the client is checked against, so it has its own data model,
formats and error names.

The data:
- :mod:`~schedulesy.adesim.model` — the frozen university (project grid, resources, activities, events);
- :mod:`~schedulesy.adesim.generate` — :func:`~schedulesy.adesim.generate.generate`, from a
  :mod:`~schedulesy.adesim.presets` preset and a seed; it builds on :mod:`~schedulesy.adesim.draft`,
  with :mod:`~schedulesy.adesim.schedule` placing the events, :mod:`~schedulesy.adesim.calendar`
  choosing the weeks and :mod:`~schedulesy.adesim.names` the words;
- :mod:`~schedulesy.adesim.store` — the mutable, indexed copy a running simulator serves and changes.

The server:
- :mod:`~schedulesy.adesim.simulator` — the server's state: stores, sessions, settings, counters;
- :mod:`~schedulesy.adesim.webapi` (with :mod:`~schedulesy.adesim.params` and
  :mod:`~schedulesy.adesim.errors`) — the ``/jsp/webapi`` functions, answering XML written by
  :mod:`~schedulesy.adesim.xml`, :mod:`~schedulesy.adesim.resource_xml` and
  :mod:`~schedulesy.adesim.activity_xml`;
- :mod:`~schedulesy.adesim.admin` — the JSON admin API; :mod:`~schedulesy.adesim.controls` — the
  faults, quirks and config it sets;
- :mod:`~schedulesy.adesim.app` — the ASGI app; :mod:`~schedulesy.adesim.server` serves it with
  granian (``schedulesy ade-simulator``), :mod:`~schedulesy.adesim.background` in a thread (tests).
"""
