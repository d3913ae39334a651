"""A handler's RETRY is redelivered by a real daprd (dapr/resiliency), then dead-lettered.

daprd 1.18 calls a subscription handler once and, when the subscription has a dead-letter
topic (every subscription here has), dead-letters the message on its first RETRY unless an
inbound Resiliency policy for the component retries it. The test app is
tests/integration/apps/redelivery.py; its run file loads the project's Resiliency folder.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from sidecart.testing import RunningStack, eventually, running_stack
from tests.conftest import ROOT

RUN_FILE = Path(__file__).parent / "data" / "redelivery.yaml"
RESILIENCY = ROOT / "dapr" / "resiliency" / "resiliency.yaml"
APP = "redelivery"


@pytest.fixture(scope="module")
def redelivery_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    tmp = tmp_path_factory.mktemp("redelivery")
    with running_stack(RUN_FILE, tmp, apps={APP}) as stack:
        yield stack


def pubsub_max_retries() -> int:
    doc = yaml.safe_load(RESILIENCY.read_text())
    policy = doc["spec"]["targets"]["components"]["pubsub"]["inbound"]["retry"]
    return int(doc["spec"]["policies"]["retries"][policy]["maxRetries"])


def publish(stack: RunningStack, topic: str) -> str:
    probe_id = str(uuid.uuid4())
    url = f"{stack.dapr_url(APP)}/v1.0/publish/pubsub/{topic}"
    response = httpx.post(url, json={"probe_id": probe_id}, headers=stack.dapr_headers(APP))
    assert response.status_code == 204, response.text
    return probe_id


def answers(stack: RunningStack, probe_id: str) -> list[str]:
    url = f"{stack.app_url(APP)}/calls"
    calls: dict[str, list[str]] = httpx.get(url, headers=stack.app_headers(APP)).json()
    return calls.get(probe_id, [])


def dead_letters(stack: RunningStack) -> list[str]:
    url = f"{stack.app_url(APP)}/dead-letters"
    found: list[str] = httpx.get(url, headers=stack.app_headers(APP)).json()
    return found


def test_a_message_answered_retry_once_is_delivered_again_and_not_dead_lettered(
    redelivery_stack: RunningStack,
) -> None:
    probe_id = publish(redelivery_stack, "flaky")

    def handled() -> None:
        assert answers(redelivery_stack, probe_id) == ["RETRY", "SUCCESS"]

    eventually(handled, timeout=20)
    assert probe_id not in dead_letters(redelivery_stack)


def test_a_message_answered_retry_every_time_is_dead_lettered_after_the_policys_retries(
    redelivery_stack: RunningStack,
) -> None:
    probe_id = publish(redelivery_stack, "hopeless")

    def dead_lettered() -> None:
        assert probe_id in dead_letters(redelivery_stack)

    eventually(dead_lettered, timeout=25)
    assert answers(redelivery_stack, probe_id) == ["RETRY"] * (1 + pubsub_max_retries())
    assert dead_letters(redelivery_stack).count(probe_id) == 1
