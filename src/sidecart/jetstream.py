"""NATS JetStream streams, declared as YAML beside the pub/sub component and applied at start.

Dapr's `pubsub.jetstream` component never creates streams: a publish to a subject that no
stream captures fails, and a subscription needs a stream to bind its consumer to. The streams
are declared in NACK's format (`jetstream.nats.io/v1beta2`, kind `Stream`), so the same file
is what the NACK controller applies on Kubernetes; `sidecart run` applies them itself through
the JetStream API before any sidecar starts. daprd skips documents of kinds it does not know.

Only the fields the shop needs are accepted (an unknown field is refused, not ignored).
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from sidecart.errors import SidecartError

API_VERSION = "jetstream.nats.io/v1beta2"
KIND = "Stream"
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NANOS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
_NANOS["h"] = 60 * _NANOS["m"]
# JetStream's own rule for stream names (they become API subject tokens).
_STREAM_NAME = re.compile(r"^[^.*>\s]+$")


def go_duration_ns(text: str) -> int:
    """A Go duration (`2m`, `1h30m`, `250ms`), as NACK and Dapr write them, in nanoseconds."""
    pos, total = 0, 0.0
    for match in _GO_DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _NANOS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration like 2m, 90s or 1h30m")
    return int(total)


class StreamSpec(BaseModel):
    """The part of NACK's Stream spec the shop uses, with NACK's field names."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel)

    name: str = Field(min_length=1)
    subjects: tuple[str, ...] = Field(min_length=1)
    description: str | None = None
    storage: Literal["file", "memory"] = "file"
    retention: Literal["limits", "interest", "workqueue"] = "limits"
    discard: Literal["old", "new"] = "old"
    max_age: str | None = None
    max_msgs: int | None = Field(None, ge=-1)
    max_bytes: int | None = Field(None, ge=-1)
    duplicate_window: str | None = None
    replicas: int = Field(1, ge=1, le=5)

    @field_validator("name")
    @classmethod
    def _name_is_a_token(cls, value: str) -> str:
        if not _STREAM_NAME.match(value):
            raise ValueError("a stream name may not contain '.', '*', '>' or white space")
        return value

    @field_validator("max_age", "duplicate_window")
    @classmethod
    def _is_duration(cls, value: str | None) -> str | None:
        if value is not None:
            go_duration_ns(value)
        return value

    def api_config(self) -> dict[str, Any]:
        """The stream's configuration as the JetStream API takes it (durations in ns)."""
        config: dict[str, Any] = {
            "name": self.name,
            "subjects": list(self.subjects),
            "storage": self.storage,
            "retention": self.retention,
            "discard": self.discard,
            "num_replicas": self.replicas,
        }
        if self.description is not None:
            config["description"] = self.description
        if self.max_age is not None:
            config["max_age"] = go_duration_ns(self.max_age)
        if self.duplicate_window is not None:
            config["duplicate_window"] = go_duration_ns(self.duplicate_window)
        if self.max_msgs is not None:
            config["max_msgs"] = self.max_msgs
        if self.max_bytes is not None:
            config["max_bytes"] = self.max_bytes
        return config


@dataclass(frozen=True)
class Stream:
    spec: StreamSpec
    path: Path

    def captures(self, subject: str) -> bool:
        return any(subject_matches(pattern, subject) for pattern in self.spec.subjects)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcards: `*` is one token, a final `>` is one or more."""
    want, have = pattern.split("."), subject.split(".")
    for index, part in enumerate(want):
        if part == ">":
            return index == len(want) - 1 and len(have) > index
        if index >= len(have) or (part != "*" and part != have[index]):
            return False
    return len(want) == len(have)


def is_stream_document(doc: Mapping[str, Any]) -> bool:
    return str(doc.get("apiVersion", "")).startswith("jetstream.nats.io/")


def problems(doc: Mapping[str, Any]) -> list[str]:
    """What is wrong with one NACK document, one line each (empty when it is a good Stream)."""
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != KIND:
        return [f"only {API_VERSION} {KIND} is supported, not {doc.get('kind')!r}"]
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        return ["Stream has no metadata.name"]
    try:
        StreamSpec.model_validate(doc.get("spec"))
    except ValidationError as exc:
        return [
            f"stream {meta['name']!r}: spec.{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}"
            for e in exc.errors()
        ]
    return []


def load_streams(dirs: Iterable[Path]) -> list[Stream]:
    """Every Stream declared in the resources folders, refusing a malformed one in one line."""
    streams: list[Stream] = []
    for folder in dirs:
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            except yaml.YAMLError as exc:
                raise SidecartError(f"{path}: not valid YAML: {exc}") from exc
            for doc in docs:
                if not isinstance(doc, Mapping) or not is_stream_document(doc):
                    continue
                found = problems(doc)
                if found:
                    raise SidecartError(f"{path}: {found[0]}")
                streams.append(Stream(StreamSpec.model_validate(doc["spec"]), path))
    by_name: dict[str, Stream] = {}
    for stream in streams:
        other = by_name.setdefault(stream.spec.name, stream)
        if other is not stream:
            raise SidecartError(
                f"{stream.path}: stream {stream.spec.name!r} is also declared in {other.path}"
            )
    return streams


def nats_request(
    port: int,
    subject: str,
    payload: Mapping[str, Any],
    timeout: float = 5,
    host: str = "127.0.0.1",
) -> Any:
    """One request/reply over the NATS text protocol (enough for the JetStream API).

    No credentials are sent: this is for the NATS Sidecart starts, or an open one of your own.
    """
    body = json.dumps(payload).encode()
    inbox = f"_INBOX.sidecart{uuid.uuid4().hex}"
    with socket.create_connection((host, port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        reader.readline()  # the server's INFO line
        sock.sendall(
            b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\n'
            + f"SUB {inbox} 1\r\nPUB {subject} {inbox} {len(body)}\r\n".encode()
            + body
            + b"\r\n"
        )
        while True:
            line = reader.readline().decode().strip()
            if not line:
                raise SidecartError(f"nats on {host}:{port} closed the connection")
            if line == "PING":
                sock.sendall(b"PONG\r\n")
            elif line.startswith("-ERR"):
                raise SidecartError(f"nats on {host}:{port}: {line}")
            elif line.startswith("MSG "):
                size = int(line.split()[-1])
                return json.loads(reader.read(size + 2)[:size])


def _api_error(answer: Any) -> str | None:
    error = answer.get("error") if isinstance(answer, Mapping) else None
    if error is None:
        return None
    return str(error.get("description") or error) if isinstance(error, Mapping) else str(error)


def jetstream_enabled(port: int) -> bool:
    """The server answers the JetStream API (it is up and was started with JetStream)."""
    try:
        return _api_error(nats_request(port, "$JS.API.INFO", {}, timeout=2)) is None
    except (OSError, SidecartError, ValueError):
        return False


def patterns_overlap(one: str, other: str) -> bool:
    """Some subject matches both NATS patterns (wildcards on either side)."""
    left, right = one.split("."), other.split(".")
    for index in range(min(len(left), len(right))):
        a, b = left[index], right[index]
        if ">" in (a, b):
            return True  # both have a token here, and `>` takes it and whatever follows
        if "*" not in (a, b) and a != b:
            return False
    return len(left) == len(right)


def subjects_overlap(patterns: Sequence[str], others: Sequence[str]) -> bool:
    """Some subject is matched by both lists (NATS refuses two streams that overlap)."""
    return any(patterns_overlap(a, b) for a in patterns for b in others)


def apply_streams(
    port: int, streams: Sequence[Stream], host: str = "127.0.0.1", prune: bool = False
) -> list[str]:
    """Create each stream, or bring one kept from an earlier run to its declared configuration.

    With `prune` (a NATS Sidecart started, in its own data folder), an undeclared stream whose
    subjects overlap the declared ones is deleted first: one kept from an earlier layout of this
    project (e.g. a single stream on `*`) would otherwise make NATS refuse every declared stream.
    Returns the names of the streams deleted.
    """
    pruned: list[str] = []
    if prune:
        declared = {s.spec.name for s in streams}
        wanted = [subject for s in streams for subject in s.spec.subjects]
        names = nats_request(port, "$JS.API.STREAM.NAMES", {}, host=host).get("streams") or []
        for name in sorted(set(names) - declared):
            info = nats_request(port, f"$JS.API.STREAM.INFO.{name}", {}, host=host)
            if subjects_overlap(info.get("config", {}).get("subjects") or [], wanted):
                error = _api_error(
                    nats_request(port, f"$JS.API.STREAM.DELETE.{name}", {}, host=host)
                )
                if error is not None:
                    raise SidecartError(f"nats on {host}:{port}: deleting stream {name!r}: {error}")
                pruned.append(name)
    for stream in streams:
        config = stream.spec.api_config()
        name = stream.spec.name
        answer = nats_request(port, f"$JS.API.STREAM.CREATE.{name}", config, host=host)
        error = _api_error(answer)
        if error is not None and "already in use" in error:
            update = nats_request(port, f"$JS.API.STREAM.UPDATE.{name}", config, host=host)
            error = _api_error(update)
        if error is not None:
            raise SidecartError(f"{stream.path}: NATS refused stream {name!r}: {error}")
    return pruned


def stream_for(port: int, subject: str) -> str | None:
    """The name of the stream on the server that captures `subject`, if any."""
    answer = nats_request(port, "$JS.API.STREAM.NAMES", {"subject": subject})
    names = answer.get("streams") if isinstance(answer, Mapping) else None
    return str(names[0]) if names else None


def stored_on_subject(port: int, subject: str) -> int:
    """How many messages the server holds on `subject` (0 when no stream captures it)."""
    name = stream_for(port, subject)
    if name is None:
        return 0
    info = nats_request(port, f"$JS.API.STREAM.INFO.{name}", {"subjects_filter": subject})
    subjects = (info.get("state") or {}).get("subjects") or {}
    return int(subjects.get(subject, 0))
