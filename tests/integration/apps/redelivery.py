"""A subscriber for tests/integration/test_pubsub_redelivery.py, run beside a real daprd.

`flaky` answers RETRY the first time it sees a probe and SUCCESS after; `hopeless` answers RETRY
every time; `dead-letters` notes what reached it. GET /calls tells the test what each probe was
answered, in order, and GET /dead-letters which probes were dead-lettered.

    python -m tests.integration.apps.redelivery   (APP_PORT set by the launcher)
"""

from __future__ import annotations

import os
from collections import defaultdict

import uvicorn
from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI
from pydantic import BaseModel

from sidecart.service import pubsub

DEAD_LETTERS = "dead-letters"


class Probe(BaseModel):
    probe_id: str


def create_app() -> FastAPI:
    app = FastAPI()
    calls: defaultdict[str, list[str]] = defaultdict(list)
    dead_letters: list[str] = []

    async def on_flaky(event: pubsub.CloudEvent[Probe]) -> pubsub.Status:
        seen = calls[event.data.probe_id]
        status = pubsub.Status.RETRY if not seen else pubsub.Status.SUCCESS
        seen.append(status.value)
        return status

    async def on_hopeless(event: pubsub.CloudEvent[Probe]) -> pubsub.Status:
        calls[event.data.probe_id].append(pubsub.Status.RETRY.value)
        return pubsub.Status.RETRY

    async def on_dead_letter(event: pubsub.CloudEvent[Probe]) -> pubsub.Status:
        dead_letters.append(event.data.probe_id)
        return pubsub.Status.SUCCESS

    dapr_app = DaprApp(app)
    for topic, handler in (("flaky", on_flaky), ("hopeless", on_hopeless)):
        dapr_app.subscribe(
            pubsub="pubsub",
            topic=topic,
            route=f"/events/{topic}",
            dead_letter_topic=DEAD_LETTERS,
        )(pubsub.endpoint(Probe, handler))
    dapr_app.subscribe(pubsub="pubsub", topic=DEAD_LETTERS, route=f"/events/{DEAD_LETTERS}")(
        pubsub.endpoint(Probe, on_dead_letter)
    )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/calls")
    async def answers() -> dict[str, list[str]]:
        return dict(calls)

    @app.get("/dead-letters")
    async def dead_lettered() -> list[str]:
        return dead_letters

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ["APP_PORT"]), log_config=None)
