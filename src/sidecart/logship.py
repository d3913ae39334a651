"""Ship every line of every process the launcher runs to the central log store (VictoriaLogs).

The launcher already reads each process's output line by line (`ManagedProcess`); it hands each
line to `LogShipper.ship`, which only appends to a bounded in-memory queue and returns. One
background thread turns lines into records of one schema and posts them in batches to
VictoriaLogs's JSON-lines API. When the store is down the batch is retried with a growing pause
while new lines keep queueing; when the queue is full the oldest lines are dropped and counted.
Nothing here ever blocks a process's output or raises into the launcher.

The schema (one JSON object per line; field names are what LogsQL queries use):

    _time     when the launcher read the line (RFC 3339, UTC)
    _msg      the message
    service   the app id (apps and sidecars) or the server's name (infrastructure)
    source    app | sidecar | infra
    level     debug | info | warn | error | fatal
    trace_id  32 hex digits, when the line belongs to a trace (app lines inside a request,
              daprd's span lines); span_id likewise
    ...       every other field of a JSON line, as it came (daprd's scope, an app's order_id)
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger("sidecart.logship")

APP, SIDECAR, INFRA = "app", "sidecar", "infra"
STREAM_FIELDS = "service,source"

_LEVELS = {
    "trace": "debug",
    "debug": "debug",
    "verbose": "debug",
    "info": "info",
    "notice": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
    "err": "error",
    "severe": "error",
    "critical": "fatal",
    "fatal": "fatal",
    "panic": "fatal",
}
_LEVEL_WORD = re.compile(
    r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|CRITICAL|FATAL|PANIC)\b"
)
# Redis: "1234:M 29 Nov 2025 14:00:00.000 * Ready to accept connections tcp"
_REDIS = re.compile(r"^\d+:[A-Z] \d{1,2} \w{3} \d{4} [\d:.]+ ([.\-*#]) (.*)$")
_REDIS_LEVELS = {".": "debug", "-": "debug", "*": "info", "#": "warn"}
# daprd's span exporter (tracing.stdout): "[CallLocal/catalog/products] Trace: <32 hex> Span:
# <parent 16 hex>/<span 16 hex> Time: [...]"
_DAPR_SPAN = re.compile(
    r"^\[(?P<name>[^\]]*)\] Trace: (?P<trace>[0-9a-f]{32}) "
    r"Span: (?P<parent>[0-9a-f]{16})/(?P<span>[0-9a-f]{16})"
    r"(?: Time: \[(?P<start>\S+ \S+) \+0000 UTC m=\+(?P<m0>[\d.]+) +-> +\S+ \S+ \+0000 UTC "
    r"m=\+(?P<m1>[\d.]+)\])?"
)
_LOGFMT_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
_ZERO_TRACE = "0" * 32
# Set by the shipper, or noise (uvicorn's ANSI-coloured copy of each message).
_NOT_COPIED = {"_msg", "_time", "_stream", "service", "source", "color_message"}


def normalise_level(value: object, default: str = "info") -> str:
    return _LEVELS.get(str(value).strip().lower(), default) if value else default


def _level_in_text(text: str) -> str:
    found = _LEVEL_WORD.search(text[:120])
    return normalise_level(found.group(1)) if found else "info"


def _flat(value: object) -> object:
    return value if isinstance(value, str | int | float | bool) else json.dumps(value)


def _from_json(fields: dict[str, Any], record: dict[str, Any]) -> None:
    """Keep every field; take the message and the level out of the names each producer uses."""
    message = fields.pop("message", None)
    if message is None:
        message = fields.pop("msg", None)
    record["_msg"] = str(message) if message is not None else json.dumps(fields)
    record["level"] = normalise_level(fields.pop("level", None) or fields.pop("levelname", None))
    for key, value in fields.items():
        if value is None or key in _NOT_COPIED:
            continue
        record[key] = _flat(value)


def _from_logfmt(line: str, record: dict[str, Any]) -> bool:
    pairs = {
        key: value[1:-1].replace('\\"', '"') if value.startswith('"') else value
        for key, value in _LOGFMT_PAIR.findall(line)
    }
    if "level" not in pairs or not ({"msg", "ts", "caller"} & set(pairs)):
        return False
    record["_msg"] = pairs.pop("msg", line)
    record["level"] = normalise_level(pairs.pop("level"))
    for key, value in pairs.items():
        if key not in {"service", "source"}:
            record[key] = value
    return True


def normalise(service: str, source: str, line: str, seen: float) -> dict[str, Any] | None:
    """One output line as a record of the shared schema; None for a blank line."""
    text = line.strip()
    if not text:
        return None
    record: dict[str, Any] = {
        "_time": datetime.fromtimestamp(seen, UTC).isoformat(timespec="microseconds"),
        "service": service,
        "source": source,
    }
    parsed: object = None
    if text.startswith("{"):
        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
    if isinstance(parsed, dict):
        _from_json(parsed, record)
        if source == SIDECAR:
            record.pop("app_id", None)
    elif not _from_logfmt(text, record):
        redis = _REDIS.match(text)
        if redis is not None:
            record["_msg"] = redis.group(2)
            record["level"] = _REDIS_LEVELS[redis.group(1)]
        else:
            record["_msg"] = text
            record["level"] = _level_in_text(text)
    span = _DAPR_SPAN.match(str(record["_msg"]))
    if span is not None:
        _dapr_span(span, record)
    if record.get("trace_id") in {None, "", _ZERO_TRACE}:
        record.pop("trace_id", None)
        record.pop("span_id", None)
    return record


def _dapr_span(span: re.Match[str], record: dict[str, Any]) -> None:
    """daprd's span line, made readable and placed at the span's start, not its export."""
    record["trace_id"] = span["trace"]
    record["span_id"] = span["span"]
    record["span_name"] = span["name"]
    if span["start"] is None:  # a clock not in UTC: keep the line as it came
        return
    duration_ms = (float(span["m1"]) - float(span["m0"])) * 1000
    record["_msg"] = f"span {span['name']} ({duration_ms:.1f} ms)"
    record["_time"] = span["start"].replace(" ", "T") + "Z"
    record["duration_ms"] = round(duration_ms, 3)
    if span["parent"] != "0" * 16:
        record["parent_span_id"] = span["parent"]


@dataclass
class ShipperStats:
    received: int = 0
    shipped: int = 0
    dropped: int = 0
    failed_posts: int = 0

    @property
    def accounted(self) -> int:
        return self.shipped + self.dropped


class LogShipper:
    """Bounded queue in front of one background thread that posts batches to VictoriaLogs."""

    def __init__(
        self,
        store_url: str,
        max_queue: int = 100_000,
        batch_size: int = 1_000,
        flush_interval: float = 0.25,
        max_backoff: float = 10.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.insert_url = f"{store_url.rstrip('/')}/insert/jsonline?_stream_fields={STREAM_FIELDS}"
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.clock = clock
        self.stats = ShipperStats()
        self._queue: deque[tuple[str, str, str, float]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None

    # --- the producer side: called from the launcher's output pumps --------------------------

    def ship(self, service: str, source: str, line: str) -> None:
        """Queue one line; never blocks, never raises. When full, the oldest line is dropped."""
        with self._lock:
            self.stats.received += 1
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self.stats.dropped += 1
            self._queue.append((service, source, line, self.clock()))
            self._idle.clear()
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def sink(self, service: str, source: str) -> Callable[[str], None]:
        """A per-process line callback for `ManagedProcess.on_line`."""

        def on_line(line: str) -> None:
            self.ship(service, source, line)

        return on_line

    @property
    def pending(self) -> int:
        return len(self._queue)

    # --- the consumer side -------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
            self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is shipped (or dropped); False on timeout."""
        self._wake.set()
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 3.0) -> ShipperStats:
        """Ship what the store takes within `timeout`; count the rest as dropped."""
        self.flush(timeout)
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
        with self._lock:
            self.stats.dropped += len(self._queue)
            self._queue.clear()
        log.info(
            "log shipping stopped",
            extra={"shipped": self.stats.shipped, "dropped": self.stats.dropped},
        )
        return self.stats

    def _take(self) -> list[tuple[str, str, str, float]]:
        with self._lock:
            count = min(self.batch_size, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    def _run(self) -> None:
        backoff = 0.0
        batch: list[tuple[str, str, str, float]] = []
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stopping.is_set():
                if not batch:
                    batch = self._take()
                if not batch:
                    with self._lock:
                        if not self._queue:
                            self._idle.set()
                    self._wake.wait(self.flush_interval)
                    self._wake.clear()
                    continue
                if self._post(client, batch):
                    self.stats.shipped += len(batch)
                    batch = []
                    backoff = 0.0
                    continue
                # The store is down: keep this batch, let the queue absorb (and drop) the rest.
                backoff = min(self.max_backoff, backoff * 2 or 0.5)
                self._stopping.wait(backoff)
        with self._lock:
            self.stats.dropped += len(batch)
        self._idle.set()

    def _post(self, client: httpx.Client, batch: list[tuple[str, str, str, float]]) -> bool:
        lines = []
        for service, source, line, seen in batch:
            try:
                record = normalise(service, source, line, seen)
            except Exception:  # a line the parser trips on is still a line: ship it raw
                record = {"_msg": line, "service": service, "source": source, "level": "info"}
            if record is not None:
                lines.append(json.dumps(record, separators=(",", ":"), default=str))
        if not lines:
            return True
        try:
            response = client.post(
                self.insert_url,
                content=("\n".join(lines) + "\n").encode(),
                headers={"Content-Type": "application/stream+json"},
            )
            ok = response.is_success
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            ok, problem = False, f"{type(exc).__name__}: {exc}"
        if ok:
            if self._down_since is not None:
                log.info("log store reachable again; shipping the backlog")
            self._down_since = None
            return True
        self.stats.failed_posts += 1
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        elif now - self._down_since > 10 and self.stats.failed_posts % 20 == 0:
            log.warning(
                "log store not answering; lines are buffered (oldest dropped when full)",
                extra={"problem": problem, "pending": self.pending, "dropped": self.stats.dropped},
            )
        return False
