"""`GET /metrics`: the service's metrics in Prometheus's text format, for a bearer token.

Off (404, as any unknown path) until `METRICS_TOKEN` is set; then a request without that
token, or with another, answers 401 with `WWW-Authenticate: Bearer` (compared in constant
time). The counters are every process's, added up from `PROMETHEUS_MULTIPROC_DIR`; the
gauges about queues, leases, sends and heartbeats are read from the database now
(`service.metrics.scraped`). Without the directory (development) the counters are this web
process's own.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from service.extensions import db
from service.http.contract import PUBLIC, endpoint
from service.http.errors import api_error
from service.metrics import processes
from service.metrics.scraped import Scrape

bp = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)
REALM = 'Bearer realm="metrics"'


class _ThisProcess(Collector):
    """The default registry's metrics (this process's counters, when there is no directory)."""

    def collect(self) -> Iterator:
        yield from REGISTRY.collect()


def _authorized(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@bp.get("/metrics")
@endpoint(
    PUBLIC,  # no API key: its own token, below
    validate=False,
    answers={200: "text/plain"},
    media=("text/plain",),
    errors={
        401: "`unauthorized`: no `Authorization: Bearer $METRICS_TOKEN`, or another token",
        404: "`not_found`: metrics are off (`METRICS_TOKEN` is unset)",
    },
    headers={401: {"WWW-Authenticate": '`Bearer realm="metrics"`'}},
)
def metrics() -> Response:
    """Every metric, for Prometheus (`Authorization: Bearer $METRICS_TOKEN`)."""
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        return api_error(404, "not_found", "Not found.")
    if not _authorized(token):
        response = api_error(
            401, "unauthorized", "Missing or wrong token: send 'Authorization: Bearer <token>'."
        )
        response.headers["WWW-Authenticate"] = REALM
        return response
    registry = CollectorRegistry()
    if processes.directory() is not None:
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    config = current_app.config
    readable = 1
    try:
        with db.engine.connect() as conn:
            scrape = Scrape(conn, config["SEND_LEASE_SECONDS"], config["HEARTBEAT_SECONDS"])
            families = list(scrape.collect())
    except SQLAlchemyError as exc:  # the counters still answer; the gauge says why not more
        log.warning("metrics: the database could not be read: %s", type(exc).__name__)
        families, readable = [], 0
    families.append(
        GaugeMetricFamily(
            "newsletter_metrics_database_readable",
            "1 if this scrape read the database's gauges, 0 if it could not.",
            value=readable,
        )
    )
    registry.register(_Families(families))
    return Response(generate_latest(registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)


class _Families(Collector):
    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self) -> Iterator:
        yield from self.families
