"""Dapr resource YAML (components, subscriptions, resiliency): checked before daprd sees it.

daprd logs a broken component and carries on without it, so the launcher checks every file first
and refuses to start with one line naming the file and the problem. It also writes the copy that
daprd reads, with infrastructure addresses rewritten when the harness runs on free ports.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sidecart import jetstream
from sidecart.errors import SidecartError

KINDS = {"Component", "Subscription", "Resiliency", "Configuration", "HTTPEndpoint"}
_VALUE_KEYS = {"value", "secretKeyRef", "envRef"}


@dataclass(frozen=True)
class Component:
    name: str
    type: str
    path: Path
    metadata: Mapping[str, str] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()


def _yaml_error(path: Path, exc: yaml.YAMLError) -> SidecartError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "syntax error"
    at = f" at line {mark.line + 1}" if mark is not None else ""
    return SidecartError(f"{path}: not valid YAML{at}: {problem}")


def _component(path: Path, doc: Mapping[str, Any]) -> Component:
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(name, str) or not name:
        raise SidecartError(f"{path}: Component has no metadata.name")
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        raise SidecartError(f"{path}: component {name!r} has no spec")
    ctype = spec.get("type")
    if not isinstance(ctype, str) or "." not in ctype:
        raise SidecartError(f"{path}: component {name!r}: spec.type must look like 'state.redis'")
    if not isinstance(spec.get("version"), str):
        raise SidecartError(f"{path}: component {name!r}: spec.version (e.g. v1) is missing")
    items = spec.get("metadata") or []
    if not isinstance(items, list):
        raise SidecartError(f"{path}: component {name!r}: spec.metadata must be a list")
    values: dict[str, str] = {}
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise SidecartError(f"{path}: component {name!r}: every metadata item needs a name")
        present = _VALUE_KEYS & set(item)
        unknown = set(item) - _VALUE_KEYS - {"name"}
        if unknown:
            raise SidecartError(
                f"{path}: component {name!r}: metadata {item['name']!r} has unknown key "
                f"{sorted(unknown)[0]!r}"
            )
        if len(present) != 1:
            raise SidecartError(
                f"{path}: component {name!r}: metadata {item['name']!r} needs exactly one of "
                "value, secretKeyRef, envRef"
            )
        if "value" in item:
            values[item["name"]] = str(item["value"])
    scopes = doc.get("scopes") or []
    return Component(name, ctype, path, values, tuple(str(s) for s in scopes))


def load_resources(dirs: Iterable[Path]) -> list[Component]:
    """Parse every YAML file in `dirs`; return the components, refusing any malformed file."""
    components: list[Component] = []
    seen: dict[str, Path] = {}
    for folder in dirs:
        if not folder.is_dir():
            raise SidecartError(f"{folder}: resources folder not found")
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
            except yaml.YAMLError as exc:
                raise _yaml_error(path, exc) from exc
            for doc in docs:
                if isinstance(doc, Mapping) and jetstream.is_stream_document(doc):
                    continue  # NATS's own resources, read by sidecart.jetstream
                if not isinstance(doc, Mapping) or doc.get("kind") not in KINDS:
                    kind = doc.get("kind") if isinstance(doc, Mapping) else None
                    raise SidecartError(
                        f"{path}: unknown kind {kind!r}, expected one of {sorted(KINDS)}"
                    )
                if not str(doc.get("apiVersion", "")).startswith("dapr.io/"):
                    raise SidecartError(
                        f"{path}: apiVersion must be dapr.io/v1alpha1 (or v2alpha1)"
                    )
                if doc["kind"] != "Component":
                    continue
                component = _component(path, doc)
                if component.name in seen:
                    raise SidecartError(
                        f"{path}: component {component.name!r} is also defined in "
                        f"{seen[component.name]}"
                    )
                seen[component.name] = path
                components.append(component)
    return components


def check_config(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SidecartError(f"{path}: Dapr configuration not found") from exc
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from exc
    if not isinstance(doc, dict) or doc.get("kind") != "Configuration":
        raise SidecartError(f"{path}: expected a Dapr Configuration (kind: Configuration)")
    return doc


Overrides = Mapping[tuple[str, str], str]
"""(component type, metadata name) -> the value to put there, e.g. ('state.redis', 'redisHost')."""


def materialize(src_dirs: Iterable[Path], dest: Path, overrides: Overrides) -> list[Path]:
    """Copy resource folders under `dest`, setting the metadata values named in `overrides`."""
    out: list[Path] = []
    for index, folder in enumerate(src_dirs):
        target = dest / f"{index:02d}-{folder.name}"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
            for doc in docs:
                if doc.get("kind") != "Component":
                    continue
                ctype = doc["spec"]["type"]
                for item in doc["spec"].get("metadata") or []:
                    new = overrides.get((ctype, item["name"]))
                    if new is not None:
                        item.pop("envRef", None)
                        item.pop("secretKeyRef", None)
                        item["value"] = new
            (target / path.name).write_text(
                yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8"
            )
        out.append(target)
    return out
