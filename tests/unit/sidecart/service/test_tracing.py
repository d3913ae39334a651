"""Spans the platform makes: pub/sub handlers join the CloudEvent's trace; domain attributes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

from sidecart.service import metrics, pubsub
from sidecart.service.observability import annotate, current_trace_id

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


class Placed(BaseModel):
    order_id: str


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """Spans of this process's SDK provider: ours, or the one a service test installed first
    (OpenTelemetry lets a process set its global provider only once)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def consumer_app(seen: list[str | None]) -> FastAPI:
    async def on_placed(event: pubsub.CloudEvent[Placed]) -> pubsub.Status:
        annotate(order_id=event.data.order_id, outcome="reserved", ignored=None)
        seen.append(current_trace_id())
        return pubsub.Status.SUCCESS

    app = FastAPI()
    app.post("/events/order-placed")(pubsub.endpoint(Placed, on_placed))
    return app


def envelope(**extra: object) -> dict[str, object]:
    return {
        "id": "m1",
        "topic": "order-placed",
        "pubsubname": "pubsub",
        "data": {"order_id": "o-1"},
        **extra,
    }


def handler_span(spans: InMemorySpanExporter) -> ReadableSpan:
    found = [s for s in spans.get_finished_spans() if s.name == "handle order-placed"]
    assert len(found) == 1, [s.name for s in spans.get_finished_spans()]
    return found[0]


async def test_the_handler_runs_in_the_trace_of_the_cloudevent(spans: InMemorySpanExporter) -> None:
    seen: list[str | None] = []
    client = client_for(consumer_app(seen))
    answer = await client.post(
        "/events/order-placed", json=envelope(traceparent=f"00-{TRACE}-{PARENT}-01")
    )
    assert answer.json() == {"status": "SUCCESS"}
    span = handler_span(spans)
    assert format(span.context.trace_id, "032x") == TRACE
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT
    assert span.kind == trace.SpanKind.CONSUMER
    assert span.attributes is not None
    assert span.attributes["order.id"] == "o-1"
    assert span.attributes["outcome"] == "SUCCESS"  # the status answered to Dapr wins
    assert span.attributes["messaging.destination.name"] == "order-placed"
    assert "ignored" not in span.attributes
    assert seen == [TRACE]  # logs inside the handler carry the message's trace id


async def test_a_message_without_trace_context_gets_a_span_of_its_own(
    spans: InMemorySpanExporter,
) -> None:
    client = client_for(consumer_app([]))
    assert (await client.post("/events/order-placed", json=envelope())).json() == {
        "status": "SUCCESS"
    }
    assert handler_span(spans).context.trace_id != int(TRACE, 16)


async def test_a_payload_that_breaks_the_contract_is_dropped_in_an_error_span(
    spans: InMemorySpanExporter,
) -> None:
    client = client_for(consumer_app([]))
    bad = envelope(traceparent=f"00-{TRACE}-{PARENT}-01", data={"nope": 1})
    assert (await client.post("/events/order-placed", json=bad)).json() == {"status": "DROP"}
    span = handler_span(spans)
    assert span.attributes is not None and span.attributes["outcome"] == "DROP"
    assert not span.status.is_ok


async def test_the_payload_ids_are_on_the_handler_span_without_any_call(
    spans: InMemorySpanExporter,
) -> None:
    async def quiet(event: pubsub.CloudEvent[Placed]) -> pubsub.Status:
        return pubsub.Status.SUCCESS

    app = FastAPI()
    app.post("/events/order-placed")(pubsub.endpoint(Placed, quiet))
    await client_for(app).post("/events/order-placed", json=envelope())
    attributes = handler_span(spans).attributes
    assert attributes is not None and attributes["order.id"] == "o-1"


async def test_a_routes_path_ids_are_on_its_server_span(spans: InMemorySpanExporter) -> None:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def order(order_id: str) -> dict[str, str]:
        return {"id": order_id}

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, exclude_spans=["send", "receive"]
    )
    metrics.add_red_metrics(app)
    assert (await client_for(app).get("/orders/o-9")).status_code == 200
    (server,) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes["order.id"] == "o-9"
    assert server.name == "GET /orders/{order_id}"
