"""Read the real brokers and stores of whichever profile a stack runs: proof the swap is real.

Tests marked `e2e` run on every profile (`make test-matrix`), so a check that looks under the
hood must look under the right one: `stored_bytes` reads a state key from Redis, PostgreSQL,
etcd or the SQLite file; `assert_topic_carried` finds a topic on Redis Streams, Kafka,
RabbitMQ or JetStream, each with its own client.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
from typing import Any, cast

import httpx
import psycopg
import redis
from confluent_kafka import Consumer, KafkaError, TopicPartition

from sidecart import jetstream, profile_infra
from sidecart.profiles import Profile
from sidecart.testing import RunningStack


def profile_of(stack: RunningStack) -> Profile:
    return stack.stack.profile


# --- state --------------------------------------------------------------------------------------


def stored_bytes(stack: RunningStack, key: str) -> bytes | None:
    """The raw value the `statestore` holds for `key` ("<app-id>||<key>"), from the store itself."""
    state = profile_of(stack).state
    if state == "redis":
        client = redis.Redis(host="127.0.0.1", port=stack.infra_port("redis"))
        return cast("bytes | None", client.hget(key, "data"))
    if state == "postgres":
        return postgres_rows(stack, "state", key).get(key)
    if state == "etcd":
        return etcd_get(stack, f"sidecart/statestore/{key}")
    if state == "sqlite":
        path = stack.data_dir / "sqlite" / "sidecart-state.db"
        with sqlite3.connect(path) as db:
            row = db.execute("SELECT value, is_binary FROM state WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        # Binary values (what the Python SDK saves) are kept base64-encoded in a TEXT column.
        return base64.b64decode(row[0]) if row[1] else str(row[0]).encode()
    raise AssertionError(f"no reader for state {state!r}")


def stored_json(stack: RunningStack, key: str) -> Any:
    """The JSON document stored for `key` (etcd wraps it in a protobuf envelope: unwrap it)."""
    raw = stored_bytes(stack, key)
    if raw is None:
        return None
    start = min(i for i in (raw.find(b"{"), raw.find(b"[")) if i >= 0)
    return json.JSONDecoder().raw_decode(raw[start:].decode("utf-8", errors="replace"))[0]


def postgres_rows(stack: RunningStack, table: str, like: str) -> dict[str, bytes]:
    """key -> value of the rows of `table` whose key is LIKE `like`, read with psycopg."""
    dsn = f"host=127.0.0.1 port={stack.infra_port('postgres')} user=postgres dbname=postgres"
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f"SELECT key, value FROM {table} WHERE key LIKE %s ORDER BY key",
            (like,),
        ).fetchall()
    return {str(k): bytes(v) for k, v in rows}


def etcd_get(stack: RunningStack, key: str) -> bytes | None:
    """One key through etcd's v3 JSON gateway."""
    url = f"http://127.0.0.1:{stack.infra_port('etcd')}/v3/kv/range"
    answer = httpx.post(url, json={"key": base64.b64encode(key.encode()).decode()}).json()
    kvs = answer.get("kvs") or []
    return base64.b64decode(kvs[0]["value"]) if kvs else None


# --- pub/sub ------------------------------------------------------------------------------------


def kafka_events(stack: RunningStack, topic: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Every CloudEvent on a Kafka topic, read from the start by a fresh consumer group."""
    consumer = Consumer(
        {
            "bootstrap.servers": f"127.0.0.1:{stack.infra_port('kafka')}",
            "group.id": f"probe-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, 0)])
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(events) < high and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"kafka: {error}")
            value = message.value()
            events.append(json.loads(value) if value else {})
        return events
    finally:
        consumer.close()


def rabbitmq_exchanges(stack: RunningStack) -> dict[str, str]:
    out = profile_infra.rabbitmqctl(stack.data_dir / "rabbitmq", "list_exchanges", "name", "type")
    return dict(tuple(line.split("\t")[:2]) for line in out.splitlines() if "\t" in line)  # type: ignore[misc]


def rabbitmq_bindings(stack: RunningStack) -> set[tuple[str, str]]:
    """(exchange, queue) pairs bound on the broker."""
    out = profile_infra.rabbitmqctl(
        stack.data_dir / "rabbitmq", "list_bindings", "source_name", "destination_name"
    )
    pairs = (line.split("\t") for line in out.splitlines() if "\t" in line)
    return {(p[0], p[1]) for p in pairs if p[0]}


def jetstream_count(stack: RunningStack, topic: str) -> int:
    """Messages the stream that captures `topic` holds on it."""
    return jetstream.stored_on_subject(stack.infra_port("nats"), topic)


def assert_topic_carried(stack: RunningStack, topic: str, subscriber: str | None = None) -> None:
    """The broker of the active profile really carried `topic` (and routes it to `subscriber`)."""
    pubsub = profile_of(stack).pubsub
    if pubsub == "redis":
        client = redis.Redis(host="127.0.0.1", port=stack.infra_port("redis"))
        assert cast("int", client.xlen(topic)) >= 1
    elif pubsub == "kafka":
        events = kafka_events(stack, topic)
        assert events, f"no event on Kafka topic {topic}"
        assert all(e.get("topic") == topic for e in events), events
    elif pubsub == "rabbitmq":
        assert rabbitmq_exchanges(stack).get(topic) == "fanout"
        if subscriber is not None:
            assert (topic, f"{subscriber}-{topic}") in rabbitmq_bindings(stack)
    elif pubsub == "jetstream":
        assert jetstream_count(stack, topic) >= 1
    else:
        raise AssertionError(f"no reader for pubsub {pubsub!r}")
