"""gunicorn settings of the Procfile's `web` process (`--config gunicorn_web.py`).

Slow clients: every web process is one gevent worker (`SlowClientWorker`), so a connection is
a greenlet, not a thread. A client that sends its request a byte every few seconds holds a
few KiB and nothing else; the others are served meanwhile and no request in flight is
killed for it. Read deadlines then end such a client: a request's line and headers (and the
wait for the next request on a kept-alive connection) must arrive within `WEB_HEADER_TIMEOUT`
seconds (10), else the connection is closed; its body within `WEB_BODY_TIMEOUT` (10), else
it is answered 408. The body is read in full before the app sees it, as a buffering proxy
would. A process serves at most `WEB_CONNECTIONS` (1000) connections at once.

Processes: without `REDIS_URL` (the embedded default) the rate limits count in a process's
memory, so the web runs as one process: the limits then hold for the whole web. With
`REDIS_URL` the counters are shared in Redis and `WEB_CONCURRENCY` processes (default 2) run
side by side. `WEB_THREADS` (the one process's threads before gevent) is no longer used.

Logs: every line gunicorn writes, access log and error log alike, goes through
`RedactingLogger`: one JSON object per line in the app's format (`service/logs.py`, role
`web`), the tokens of readers' links, query-string values and API keys replaced by
`[redacted]` (`service/redaction.py`, the same rule as the app's own logs). An access line
carries the request's `X-Request-ID` as `request_id`.
"""

import importlib.util
import io
import math
import os
import resource
import sys
from pathlib import Path

import gevent
from dotenv import load_dotenv
from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.http.body import Body
from gunicorn.workers.ggevent import GeventWorker

load_dotenv(Path(__file__).resolve().parent / ".env", override=False)  # as service.config does
# The app refuses a body over this with 413 (MAX_CONTENT_LENGTH) without reading it.
BODY_LIMIT_DEFAULT = 64 * 1024
DRAIN_MAX = 1024 * 1024  # of a chunked body past the limit, as service/http/body_limit.py
_TIMEOUT_JSON = (
    b'{"status": "error", "code": "request_timeout", '
    b'"message": "The request took too long to arrive. Please try again."}'
)
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    % (len(_TIMEOUT_JSON), _TIMEOUT_JSON)
)


def _setting(name: str, default: float) -> float:
    """A positive number from the environment, or `default` when unset or blank."""
    raw = (os.environ.get(name) or "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1
    if not value > 0 or math.isinf(value):
        sys.exit(f"{name} must be a positive number, not {raw!r}")
    return value


def _drained(body: Body, most: int) -> bool:
    """Read and drop the rest of `body`, at most `most` bytes; True if it ended."""
    while most > 0:
        part = body.read(min(most, 65536))
        if not part:
            return True
        most -= len(part)
    return not body.read(1)


class SlowClientWorker(GeventWorker):
    """gunicorn's gevent worker with a deadline on a request's headers and on its body."""

    body_limit = BODY_LIMIT_DEFAULT

    def timeout_ctx(self):
        """gunicorn waits for a request and reads its line and headers inside this."""
        return gevent.Timeout(header_timeout, False)

    def load_wsgi(self):
        super().load_wsgi()
        self.config = getattr(self.wsgi, "config", {})
        self.body_limit = self.config.get("MAX_CONTENT_LENGTH") or self.body_limit

    def _limit(self, req) -> int:
        """The body limit of `req`'s route: the app's, or a route's own (an upload)."""
        from service.http.body_limit import limit_for

        config = getattr(self, "config", {})
        return limit_for(config, req.method, req.path) or self.body_limit

    def handle_request(self, listener_name, req, sock, addr):
        """Serve `req` once its body is here; 408 and close if it does not arrive in time."""
        if not self._body_arrived(req, sock):
            self.log.info("%s sent its request body too slowly: 408", addr[0] if addr else "-")
            util.write(sock, REQUEST_TIMEOUT)
            raise StopIteration  # gunicorn closes the connection
        return super().handle_request(listener_name, req, sock, addr)

    def _body_arrived(self, req, sock) -> bool:
        """Read `req`'s body into memory within `body_timeout`; False if it did not arrive.

        A body declared larger than the app accepts is left alone: the app refuses it unread
        (413). A chunked body is read up to one byte past that limit.
        """
        if req.body is None:
            return True
        declared = getattr(req.body.reader, "length", None)
        limit = self._limit(req)
        if declared == 0 or (declared or 0) > limit:
            return True
        if getattr(req, "_expected_100_continue", False):
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            req._expected_100_continue = False
        size = declared or limit + 1
        with gevent.Timeout(body_timeout, False):
            data = req.body.read(size)
            if declared is None and len(data) > limit:
                # The app refuses it (413); a client still sending should read that answer
                # rather than a reset, so up to DRAIN_MAX more is read and dropped.
                req.must_close = not _drained(req.body, DRAIN_MAX)
            req.body = Body(io.BytesIO(data))
            return True
        return False


def _allow_open_files(needed: int) -> None:
    """Raise this process's soft limit of open files to `needed` (up to the hard limit).

    systemd and many shells start a service with 1024, fewer than `WEB_CONNECTIONS` sockets
    plus the database's and Redis's; the workers inherit the limit from here.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    resource.setrlimit(
        resource.RLIMIT_NOFILE,
        (needed if hard == resource.RLIM_INFINITY else min(needed, hard), hard),
    )


shared_counters = bool(os.environ.get("REDIS_URL"))
asked_for = int(os.environ.get("WEB_CONCURRENCY") or 2)
header_timeout = _setting("WEB_HEADER_TIMEOUT", 10.0)
body_timeout = _setting("WEB_BODY_TIMEOUT", 10.0)

worker_class = SlowClientWorker
worker_connections = int(_setting("WEB_CONNECTIONS", 1000))
# Kept-alive connections use the header deadline (gunicorn skips it when this is 0).
keepalive = max(1, math.ceil(header_timeout))
_allow_open_files(worker_connections + 256)
workers = asked_for if shared_counters else 1
# gunicorn 24+ opens a control socket at one fixed path per user (~/.gunicorn/gunicorn.ctl), so
# two web tiers on one host (a second site, a test beside a running service) take it from each
# other; nothing here uses it.
control_socket_disable = True


def _logs():
    """`service/logs.py` alone: importing the `service` package here, in the master, would
    import the app (and ssl) before the gevent worker patches them."""
    path = Path(__file__).resolve().parent / "service" / "logs.py"
    spec = importlib.util.spec_from_file_location("newsletter_logs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


logs = _logs()


class RedactingLogger(Logger):
    """gunicorn's logger writing JSON lines (access, error, syslog), secrets redacted."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(logs.JsonFormatter(role="web"))

    def access(self, resp, req, environ, request_time):
        """One line per request: method, path, status, duration and the request id."""
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        request_id = next(
            (value for name, value in resp.headers if name.lower() == "x-request-id"), None
        )
        method, path = environ.get("REQUEST_METHOD", "-"), environ.get("RAW_URI", "-")
        duration_ms = round(request_time.total_seconds() * 1000, 1)
        self.access_log.info(
            "%s %s %s in %s ms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": path,
                "status": int(status) if str(status).isdigit() else status,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": duration_ms,
                "remote_addr": environ.get("REMOTE_ADDR"),
                "referer": environ.get("HTTP_REFERER"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "request_id": request_id,
            },
        )


logger_class = RedactingLogger


def when_ready(server):
    """Say why one process runs when more were asked for, and that threads are gone."""
    if not shared_counters and asked_for > 1 and os.environ.get("WEB_CONCURRENCY"):
        server.log.warning(
            "REDIS_URL is unset: running one web process so the rate limits hold "
            "(WEB_CONCURRENCY=%s needs REDIS_URL for shared counters)",
            asked_for,
        )
    if os.environ.get("WEB_THREADS"):
        server.log.warning(
            "WEB_THREADS is no longer used: each web process serves up to WEB_CONNECTIONS "
            "(%s) connections at once",
            worker_connections,
        )


def _metrics_processes():
    """`service/metrics/processes.py` alone, for the same reason as `_logs`: the master
    must not import prometheus-client (it imports ssl) before the workers patch it."""
    path = Path(__file__).resolve().parent / "service" / "metrics" / "processes.py"
    spec = importlib.util.spec_from_file_location("newsletter_metrics_processes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


metrics_processes = _metrics_processes()


def child_exit(server, worker):
    """A web process ended: its live gauges go; its counters stay (multiprocess metrics)."""
    metrics_processes.mark_process_dead(worker.pid)
