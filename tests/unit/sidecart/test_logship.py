"""One schema for every line (apps, sidecars, infrastructure); a queue that never blocks."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

from sidecart.logship import LogShipper, normalise
from sidecart.observe import is_span_line
from sidecart.procs import ManagedProcess, free_port

NOW = 1_790_000_000.0
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_an_app_json_line_keeps_its_fields_and_trace() -> None:
    line = json.dumps(
        {
            "time": "2026-11-29 14:03:01,123",
            "level": "WARNING",
            "logger": "ordering",
            "message": "order placed",
            "service": "ordering",
            "trace_id": TRACE,
            "span_id": "00f067aa0ba902b7",
            "order_id": "o-1",
            "color_message": "\x1b[1morder placed\x1b[0m",
        }
    )
    record = normalise("ordering", "app", line, NOW)
    assert record is not None
    assert record["_msg"] == "order placed"
    assert record["level"] == "warn"
    assert (record["service"], record["source"]) == ("ordering", "app")
    assert record["trace_id"] == TRACE
    assert record["span_id"] == "00f067aa0ba902b7"
    assert record["order_id"] == "o-1"
    assert "color_message" not in record
    assert record["_time"].startswith("2026-")


def test_an_app_line_outside_a_request_has_no_trace_id() -> None:
    line = json.dumps({"level": "INFO", "message": "catalog seeded", "trace_id": None})
    record = normalise("catalog", "app", line, NOW)
    assert record is not None and "trace_id" not in record


def test_a_daprd_span_line_becomes_a_sidecar_line_of_that_trace() -> None:
    message = (
        f"[CallLocal/catalog/products] Trace: {TRACE} Span: 00f067aa0ba902b7/1111222233334444 "
        "Time: [2026-11-29 14:14:39.199023554 +0000 UTC m=+34.768375483 ->  "
        "2026-11-29 14:14:39.203663245 +0000 UTC m=+34.773015174] Annotations: []"
    )
    line = json.dumps(
        {"app_id": "catalog", "level": "info", "msg": message, "scope": "dapr.runtime.trace"}
    )
    record = normalise("catalog", "sidecar", line, NOW)
    assert record is not None
    assert record["trace_id"] == TRACE
    assert record["span_id"] == "1111222233334444"
    assert record["parent_span_id"] == "00f067aa0ba902b7"
    assert record["_msg"] == "span CallLocal/catalog/products (4.6 ms)"
    assert record["_time"] == "2026-11-29T14:14:39.199023554Z"
    assert record["scope"] == "dapr.runtime.trace"
    assert "app_id" not in record  # it is `service`


def test_a_daprd_line_keeps_its_level_and_message() -> None:
    line = '{"app_id":"web","level":"error","msg":"error invoking app","scope":"dapr.runtime"}'
    record = normalise("web", "sidecar", line, NOW)
    assert record is not None
    assert (record["level"], record["_msg"], record["service"]) == (
        "error",
        "error invoking app",
        "web",
    )


def test_infrastructure_plain_text_gets_a_level() -> None:
    prometheus = normalise(
        "prometheus",
        "infra",
        'ts=2026-11-29T14:13:57.905Z caller=main.go:551 level=warn msg="Starting Prometheus"',
        NOW,
    )
    assert prometheus is not None
    assert (prometheus["_msg"], prometheus["level"]) == ("Starting Prometheus", "warn")
    redis = normalise(
        "redis", "infra", "31385:M 29 Nov 2026 14:13:57.874 # Warning: no config file", NOW
    )
    assert redis is not None and (redis["_msg"], redis["level"]) == (
        "Warning: no config file",
        "warn",
    )
    zipkin = normalise("zipkin", "infra", "2026-11-29 14:14:00 ERROR 1 --- [main] boom", NOW)
    assert zipkin is not None and zipkin["level"] == "error"
    assert zipkin["source"] == "infra"


def test_a_blank_line_is_not_shipped() -> None:
    assert normalise("web", "app", "   ", NOW) is None


def test_shipping_never_blocks_and_drops_the_oldest_when_full() -> None:
    # Nothing listens on this port: every post fails and the queue fills.
    shipper = LogShipper(f"http://127.0.0.1:{free_port()}", max_queue=100, batch_size=10)
    shipper.start()
    started = time.monotonic()
    for index in range(1000):
        shipper.ship("web", "app", f"line {index}")
    assert time.monotonic() - started < 1.0
    assert shipper.pending <= 100
    stats = shipper.stop(timeout=0.5)
    assert stats.received == 1000
    assert stats.shipped == 0
    assert stats.dropped == 1000
    assert stats.failed_posts >= 1


def test_every_output_line_reaches_the_shipper_and_span_lines_stay_off_the_terminal(
    tmp_path: Path,
) -> None:
    span = '{"level":"info","msg":"[x] Trace: ...","scope":"dapr.runtime.trace"}'
    program = f"print('hello'); print({span!r})"
    terminal = io.StringIO()
    shipped: list[str] = []
    proc = ManagedProcess(
        name="web-dapr",
        argv=[sys.executable, "-c", program],
        log_path=tmp_path / "web_daprd.log",
        echo=terminal,
        on_line=shipped.append,
        hide_from_echo=is_span_line,
    )
    proc.start()
    assert proc.popen is not None
    proc.popen.wait(timeout=10)
    proc.stop()
    assert shipped == ["hello", span]
    assert "hello" in terminal.getvalue()
    assert "dapr.runtime.trace" not in terminal.getvalue()
    assert (tmp_path / "web_daprd.log").read_text().splitlines() == ["hello", span]
