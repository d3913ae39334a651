"""JSON logs that carry the trace id, and OpenTelemetry spans exported to Zipkin.

The sidecars create the spans of every Dapr hop; the app adds its own server span per request
and client spans for its calls into the sidecar, all under the W3C `traceparent` that daprd
hands the app, so app and sidecar spans share one trace.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pythonjsonlogger.json import JsonFormatter

from sidecart.service import auth, failures, platform
from sidecart.service.metrics import add_red_metrics
from sidecart.service.settings import ServiceSettings
from sidecart.service.spans import annotate, current_trace_id

__all__ = [
    "annotate",
    "current_trace_id",
    "instrument",
    "log_extra",
    "setup_logging",
    "setup_tracing",
    "shutdown_tracing",
]


class _TraceContext(logging.Filter):
    """Stamp every record with the service name and the current trace and span ids."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.service = self.service
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else None
        record.span_id = format(context.span_id, "016x") if context.is_valid else None
        return True


def setup_logging(service: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_TraceContext(service))
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{service}{trace_id}{span_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log duplicates the RED metrics and the server span: keep its errors only.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


_provider: TracerProvider | None = None


def setup_tracing(settings: ServiceSettings) -> TracerProvider:
    """One tracer provider per process; spans go to Zipkin when an endpoint is configured."""
    global _provider  # noqa: PLW0603 - the provider is process-wide by OpenTelemetry's design
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.app_id}))
        if settings.zipkin_endpoint:
            _provider.add_span_processor(
                BatchSpanProcessor(ZipkinExporter(endpoint=settings.zipkin_endpoint))
            )
        trace.set_tracer_provider(_provider)
    return _provider


def instrument(
    app: FastAPI,
    settings: ServiceSettings,
    excluded: str = "healthz,metrics",
    serves_browsers: bool = False,
) -> None:
    """Traces (one server span per request, no ASGI send/receive noise), RED metrics and
    `GET /metrics`, `GET /_platform/metadata` (the app's sidecar, for web's platform page),
    503 / 409 answers to state-store and sidecar failures (`failures.install`), and the app
    token check (`auth.install`; `serves_browsers`: only the routes daprd calls need it).
    `excluded`: comma-separated path patterns neither traced nor counted."""
    setup_tracing(settings)
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=excluded,
        tracer_provider=_provider,
        exclude_spans=["receive", "send"],
    )
    # Added before the RED middleware, so inside it: refused requests are counted as 401s.
    auth.install(app, settings, serves_browsers)
    add_red_metrics(app, excluded)
    app.include_router(platform.router(settings))
    failures.install(app)


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.force_flush(timeout_millis=2000)


def log_extra(**fields: Any) -> dict[str, Any]:
    """Structured fields for a log call: `log.info("order placed", extra=log_extra(order_id=i))`."""
    return fields
