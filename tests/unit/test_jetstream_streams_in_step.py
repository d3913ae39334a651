"""The JetStream profile declares one stream for every topic the shop's services use."""

from pathlib import Path

import yaml
from pydantic_settings import BaseSettings

from services.cart.settings import CartSettings
from services.catalog.settings import CatalogSettings
from services.notification.settings import NotificationSettings
from services.ordering.settings import OrderingSettings
from services.payment.settings import PaymentSettings
from sidecart import jetstream
from web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: list[type[BaseSettings]] = [
    CartSettings,
    CatalogSettings,
    NotificationSettings,
    OrderingSettings,
    PaymentSettings,
    WebSettings,
]


def shop_topics() -> set[str]:
    """Every topic a service publishes or subscribes to, by its settings' defaults."""
    topics: set[str] = set()
    for settings in SETTINGS:
        for name, field in settings.model_fields.items():
            if name.endswith("_topic"):
                topics.add(str(field.default))
            elif name.endswith("_topics"):
                topics.update(field.default)
    return topics


def outbox_topics() -> set[str]:
    """Dapr's internal outbox topic of each outbox state store, as self-hosted daprd names it.

    `<namespace><appID><topic>outbox`, and the namespace of a daprd without NAMESPACE set is
    `default` (seen on the wire: a subject `orderingorder-placedoutbox` had no stream).
    """
    topics: set[str] = set()
    for path in (ROOT / "components" / "state").glob("*/*.yaml"):
        doc = yaml.safe_load(path.read_text())
        values = {m["name"]: m.get("value") for m in doc["spec"].get("metadata") or []}
        if "outboxPublishTopic" in values:
            (app_id,) = doc["scopes"]
            topics.add(f"default{app_id}{values['outboxPublishTopic']}outbox")
    return topics


def streams() -> list[jetstream.Stream]:
    return jetstream.load_streams([ROOT / "components" / "pubsub" / "jetstream"])


def test_the_shop_topics_are_found_in_the_settings() -> None:
    assert {"order-placed", "payment-requested", "dead-letters"} <= shop_topics()
    assert outbox_topics() == {"defaultorderingorder-placedoutbox"}


def test_every_topic_is_captured_by_exactly_one_stream() -> None:
    for topic in shop_topics() | outbox_topics():
        holders = [s.spec.name for s in streams() if s.captures(topic)]
        assert len(holders) == 1, f"{topic}: captured by {holders or 'no stream'}"


def test_no_stream_is_left_for_a_topic_nobody_uses() -> None:
    topics = shop_topics() | outbox_topics()
    for stream in streams():
        assert any(stream.captures(t) for t in topics), f"{stream.spec.name} is unused"


def test_a_message_forwarded_to_another_topic_lands_in_another_stream() -> None:
    """Dapr re-sends one CloudEvent id to the outbox/dead-letter topic; one stream would drop it."""
    for stream in streams():
        captured = {t for t in shop_topics() | outbox_topics() if stream.captures(t)}
        assert len(captured) == 1, f"{stream.spec.name} captures {sorted(captured)}"
