"""Prometheus metrics of the HTTP API, with prometheus-client.

Requests are counted, and timed, by route *template* (``/api/calendar/{username}``, never the raw
path: one series per user would be unbounded), method and status. Requests that match no route
share the label ``unmatched``.

Several granian workers are several processes, each with its own counters, and a scrape reaches
only one of them. ``schedulesy serve`` therefore gives its workers a shared directory
(``PROMETHEUS_MULTIPROC_DIR``, prometheus-client's multiprocess mode) and every scrape adds up the
files of all of them. The variable must be set before prometheus-client is first imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method is counted as ``other``: a client must not be able to create series at will."""

REQUESTS = Counter(
    "schedulesy_http_requests", "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
DURATION = Histogram(
    "schedulesy_http_request_duration_seconds", "Time to answer an HTTP request, by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def observe_request(route: str | None, method: str, status: int, seconds: float) -> None:
    labels = (route or UNMATCHED_ROUTE, method if method in METHODS else "other", str(status))
    REQUESTS.labels(*labels).inc()
    DURATION.labels(*labels).observe(seconds)


class _Families(Collector):
    """Metric families computed before the scrape (from the database, asynchronously)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(families: Iterable[Metric]) -> bytes:
    """The Prometheus text page: ``families`` and the HTTP metrics (of every worker, when shared)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(DURATION)
    return generate_latest(registry)
