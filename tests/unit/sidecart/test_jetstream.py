"""NACK Stream resources: what Sidecart accepts, refuses and sends to the JetStream API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecart import jetstream
from sidecart.errors import SidecartError


def stream_doc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "jetstream.nats.io/v1beta2",
        "kind": "Stream",
        "metadata": {"name": "orders"},
        "spec": {"name": "orders", "subjects": ["orders"], **spec},
    }


@pytest.mark.parametrize(
    ("text", "nanos"),
    [("2m", 120 * 10**9), ("1h30m", 5400 * 10**9), ("250ms", 250 * 10**6), ("1.5s", 15 * 10**8)],
)
def test_go_durations_are_read_in_nanoseconds(text: str, nanos: int) -> None:
    assert jetstream.go_duration_ns(text) == nanos


@pytest.mark.parametrize("text", ["", "2", "2 m", "m2", "2mm", "-1s", "2d"])
def test_a_string_that_is_not_a_go_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        jetstream.go_duration_ns(text)


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("orders", "orders", True),
        ("orders", "orders.eu", False),
        ("*", "orders", True),
        ("*", "orders.eu", False),
        ("orders.*", "orders.eu", True),
        ("orders.>", "orders.eu.paid", True),
        ("orders.>", "orders", False),
        (">", "anything.at.all", True),
    ],
)
def test_subjects_match_with_nats_wildcards(pattern: str, subject: str, matches: bool) -> None:
    assert jetstream.subject_matches(pattern, subject) is matches


def test_a_declared_stream_becomes_the_jetstream_api_configuration() -> None:
    doc = stream_doc(maxAge="168h", duplicateWindow="2m", storage="memory", maxMsgs=10)
    spec = jetstream.StreamSpec.model_validate(doc["spec"])
    assert spec.api_config() == {
        "name": "orders",
        "subjects": ["orders"],
        "storage": "memory",
        "retention": "limits",
        "discard": "old",
        "num_replicas": 1,
        "max_age": 168 * 3600 * 10**9,
        "duplicate_window": 120 * 10**9,
        "max_msgs": 10,
    }


def test_a_good_stream_document_has_no_problems() -> None:
    assert jetstream.problems(stream_doc(duplicateWindow="2m")) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"duplicate_window": "2m"}, "spec.duplicate_window: Extra inputs are not permitted"),
        ({"duplicateWindow": "two minutes"}, "spec.duplicateWindow: Value error"),
        ({"subjects": []}, "spec.subjects: Tuple should have at least 1 item"),
        ({"name": "orders.eu"}, "spec.name: Value error, a stream name may not contain"),
        ({"storage": "disk"}, "spec.storage: Input should be 'file' or 'memory'"),
    ],
)
def test_a_misspelt_or_bad_field_is_named_in_the_problem(
    spec: dict[str, Any], expected: str
) -> None:
    found = jetstream.problems(stream_doc(**spec))
    assert len(found) == 1, found
    assert found[0].startswith(f"stream 'orders': {expected}"), found


def test_another_nack_kind_is_not_taken_for_a_stream() -> None:
    doc = {**stream_doc(), "kind": "Consumer"}
    assert jetstream.problems(doc) == [
        "only jetstream.nats.io/v1beta2 Stream is supported, not 'Consumer'"
    ]


def write(folder: Path, name: str, *docs: dict[str, Any]) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_streams_are_loaded_from_among_dapr_components(tmp_path: Path) -> None:
    component = {"apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": "x"}}
    write(tmp_path / "a", "all.yaml", component, stream_doc())
    streams = jetstream.load_streams([tmp_path / "a"])
    assert [s.spec.name for s in streams] == ["orders"]
    assert streams[0].captures("orders")
    assert not streams[0].captures("payments")


def test_a_malformed_stream_refuses_the_load_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a", "streams.yaml", stream_doc(maxAge="forever"))
    with pytest.raises(SidecartError, match=rf"^{path}: stream 'orders': spec.maxAge"):
        jetstream.load_streams([tmp_path / "a"])


def test_one_stream_name_declared_twice_is_refused(tmp_path: Path) -> None:
    first = write(tmp_path / "a", "one.yaml", stream_doc())
    second = write(tmp_path / "b", "two.yaml", stream_doc())
    expected = f"{second}: stream 'orders' is also declared in {first}"
    with pytest.raises(SidecartError, match=expected):
        jetstream.load_streams([tmp_path / "a", tmp_path / "b"])


@pytest.mark.parametrize(
    ("kept", "declared", "overlap"),
    [
        (["*"], ["catalog-changed"], True),
        (["orders.>"], ["orders.eu"], True),
        (["catalog-changed"], ["orders.*"], False),
        (["probe-a", "probe-b"], ["probe-b"], True),
        (["a.*"], ["*.b"], True),
        (["a.*"], ["a"], False),
        (["a.>"], ["a"], False),
        ([">"], ["a.b.c"], True),
    ],
)
def test_a_kept_stream_is_in_the_way_when_its_subjects_overlap_the_declared_ones(
    kept: list[str], declared: list[str], overlap: bool
) -> None:
    assert jetstream.subjects_overlap(kept, declared) is overlap
