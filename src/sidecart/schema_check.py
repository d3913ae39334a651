"""Check Dapr resource YAML against the schemas Dapr ships, found in the Go module cache.

daprd ignores a misspelt metadata field and uses the default, so a typo in a profile would pass
every start-up check and change behaviour silently. The daprd build leaves the sources of
`github.com/dapr/components-contrib` and `github.com/dapr/dapr` in the Go module cache; they
hold each component's `metadata.yaml` (field names, types, required fields, allowed values)
and the CRDs of Component, Configuration, Resiliency and Subscription. `check_file` validates a
file against them and returns one line per problem.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from sidecart import jetstream, runfile
from sidecart.errors import SidecartError

CONTRIB_MODULE = "github.com/dapr/components-contrib@v1.18.0"
DAPR_MODULE = "github.com/dapr/dapr@v1.18.1"

# Metadata the runtime reads for every component of a category (not in metadata.yaml).
BUILTIN_FIELDS: dict[str, set[str]] = {
    "state": {
        "keyPrefix",
        "actorStateStore",
        "outboxPublishPubsub",
        "outboxPublishTopic",
        "outboxPubsub",
        "outboxDiscardWhenMissingState",
    },
    "pubsub": {
        "consumerID",
        "allowedTopics",
        "publishingScopes",
        "subscriptionScopes",
        "protectedTopics",
    },
    "bindings": {"direction", "route"},
}
NAME_RESOLUTION_ALIASES = {"consul": "hashicorp.consul"}
# metadata.yaml entries marked required that are not component fields at all.
NOT_REQUIRED = {
    ("bindings.localstorage", "fileName"): "per-request metadata of the create operation",
}
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^\d+$")
_MAPSTRUCTURE = re.compile(r'mapstructure:"([A-Za-z0-9_]+)')
_GO_FIELD = re.compile(r"^\t([A-Z]\w*)\s+[\*\[\]\w.{}]+", re.M)
_AUTH_IMPORT = re.compile(r'"github.com/dapr/components-contrib/common/authentication/(\w+)"')


def go_module_cache() -> Path:
    env = os.environ.get("GOMODCACHE")
    if env:
        return Path(env)
    try:
        out = subprocess.run(
            ["go", "env", "GOMODCACHE"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return Path(out) if out else Path.home() / "go" / "pkg" / "mod"


def module_dir(module: str, cache: Path | None = None) -> Path:
    folder = (cache or go_module_cache()) / module
    if not folder.is_dir():
        raise SidecartError(
            f"{folder} not found: the Dapr schemas come from the Go module cache that the daprd "
            "build fills; run `make bootstrap`"
        )
    return folder


@dataclass
class ComponentSchema:
    type: str
    path: Path
    versions: set[str]
    fields: dict[str, dict[str, Any]]  # lower-cased name -> its metadata.yaml entry
    also_known: set[str]  # lower-cased names read by the Go code (mapstructure tags, fields)
    required: list[str]
    profiles: list[list[str]] = field(default_factory=list)  # required fields per auth profile


@dataclass
class Checker:
    contrib: Path
    dapr: Path

    @classmethod
    def from_module_cache(cls, cache: Path | None = None) -> Checker:
        return cls(module_dir(CONTRIB_MODULE, cache), module_dir(DAPR_MODULE, cache))

    # --- CRDs -----------------------------------------------------------------------------

    @cached_property
    def crds(self) -> dict[tuple[str, str], dict[str, Any]]:
        folder = self.dapr / "charts" / "dapr" / "crds"
        if not folder.is_dir():
            raise SidecartError(f"{folder} not found: the Dapr CRDs are missing")
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for path in sorted(folder.glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                kind = doc["spec"]["names"]["kind"]
                for version in doc["spec"]["versions"]:
                    schema = version.get("schema", {}).get("openAPIV3Schema")
                    if schema is not None:
                        found[(kind, version["name"])] = _closed(schema)
        return found

    def crd_errors(self, doc: Mapping[str, Any]) -> list[str]:
        kind = str(doc.get("kind"))
        version = str(doc.get("apiVersion", "")).rpartition("/")[2]
        schema = self.crds.get((kind, version))
        if schema is None:
            known = sorted(f"{k} {v}" for k, v in self.crds)
            return [f"no Dapr CRD for kind {kind!r} apiVersion {version!r} (known: {known})"]
        validator = jsonschema.Draft7Validator(schema)
        return [
            f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        ]

    # --- component metadata.yaml ----------------------------------------------------------

    def component_schema(self, ctype: str, version: str) -> ComponentSchema:
        category, _, name = ctype.partition(".")
        base = self.contrib / category / Path(*name.split("."))
        candidates = [base / version / "metadata.yaml", base / "metadata.yaml"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise SidecartError(f"{ctype}: no metadata.yaml in {base} (unknown component type?)")
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        fields: dict[str, dict[str, Any]] = {}
        profiles: list[list[str]] = []
        for item in meta.get("metadata") or []:
            fields[item["name"].lower()] = item
        for profile in meta.get("authenticationProfiles") or []:
            items = profile.get("metadata") or []
            for item in items:
                _merge_field(fields, item)
            profiles.append([i["name"] for i in items if i.get("required")])
        for builtin in meta.get("builtinAuthenticationProfiles") or []:
            for item in builtin.get("metadata") or []:
                fields.setdefault(item["name"].lower(), item)
        required = [
            i["name"]
            for i in meta.get("metadata") or []
            if i.get("required") and (ctype, i["name"]) not in NOT_REQUIRED
        ]
        return ComponentSchema(
            type=ctype,
            path=path,
            versions={str(meta.get("version"))} | self._registered_versions(category, name),
            fields=fields,
            also_known=self._go_names(path.parent) | self._go_names(base),
            required=required,
            profiles=[p for p in profiles if p],
        )

    def _registered_versions(self, category: str, name: str) -> set[str]:
        """Versions daprd registers (e.g. etcd v1 and v2, whose metadata.yaml says only v1)."""
        source = self.dapr / "cmd" / "daprd" / "components" / f"{category}_{name}.go"
        if not source.is_file():
            return set()
        return set(re.findall(r'Version:\s*"(v\d+)"', source.read_text(encoding="utf-8")))

    def _go_names(self, folder: Path) -> set[str]:
        names: set[str] = set()
        sources = [p for p in folder.glob("*.go") if not p.name.endswith("_test.go")]
        for source in list(sources):
            text = source.read_text(encoding="utf-8")
            for auth in _AUTH_IMPORT.findall(text):
                common = self.contrib / "common" / "authentication" / auth
                sources += [p for p in common.glob("*.go") if not p.name.endswith("_test.go")]
        for source in sources:
            text = source.read_text(encoding="utf-8")
            names |= {n.lower() for n in _MAPSTRUCTURE.findall(text)}
            names |= {n.lower() for n in _GO_FIELD.findall(text)}
        return names

    def component_errors(self, doc: Mapping[str, Any]) -> list[str]:
        spec = doc.get("spec") or {}
        ctype, version = str(spec.get("type")), str(spec.get("version"))
        name = (doc.get("metadata") or {}).get("name")
        try:
            schema = self.component_schema(ctype, version)
        except SidecartError as exc:
            return [str(exc)]
        where = f"component {name!r} ({ctype})"
        errors: list[str] = []
        if version not in schema.versions:
            errors.append(f"{where}: version {version!r} is not one of {sorted(schema.versions)}")
        builtin = {f.lower() for f in BUILTIN_FIELDS.get(ctype.partition(".")[0], set())}
        given: dict[str, Any] = {}
        for item in spec.get("metadata") or []:
            key = str(item.get("name"))
            given[key.lower()] = item
            known = schema.fields.get(key.lower())
            if known is None:
                if key.lower() not in builtin:
                    close = _close_match(key, [*schema.fields, *builtin])
                    hint = f" (did you mean {close!r}?)" if close else ""
                    errors.append(
                        f"{where}: metadata {key!r} is not a field of {ctype} "
                        f"{schema.path.relative_to(self.contrib)}{hint}"
                    )
                continue
            if "value" in item:
                problem = _value_problem(known, item["value"])
                if problem:
                    errors.append(f"{where}: metadata {key!r}: {problem}")
        errors += [
            f"{where}: required metadata {r!r} is missing"
            for r in schema.required
            if r.lower() not in given
        ]
        # An authentication profile that is started must be complete (all optional: e.g. etcd's
        # only profile is TLS, and plain connections need none of its fields).
        started = [p for p in schema.profiles if any(r.lower() in given for r in p)]
        if started and not any(all(r.lower() in given for r in p) for p in started):
            options = " or ".join("+".join(p) for p in started)
            errors.append(f"{where}: incomplete authentication profile (needs {options})")
        return errors

    # --- Configuration's name resolution --------------------------------------------------

    def name_resolution_errors(self, block: Mapping[str, Any]) -> list[str]:
        component = str(block.get("component"))
        ctype = "nameresolution." + NAME_RESOLUTION_ALIASES.get(component, component)
        try:
            schema = self.component_schema(ctype, str(block.get("version") or "v1"))
        except SidecartError as exc:
            return [str(exc)]
        known = set(schema.fields) | schema.also_known
        errors = []
        for key in _keys(block.get("configuration") or {}):
            if key.lower() not in known:
                errors.append(
                    f"name resolution {component!r}: configuration key {key!r} is not read by "
                    f"{ctype} ({schema.path.relative_to(self.contrib).parent})"
                )
        return errors

    # --- files ----------------------------------------------------------------------------

    def check_document(self, doc: Mapping[str, Any]) -> list[str]:
        if jetstream.is_stream_document(doc):
            # NACK's CRD is not on this machine; the subset Sidecart applies is checked instead.
            return jetstream.problems(doc)
        errors = self.crd_errors(doc)
        if doc.get("kind") == "Component":
            errors += self.component_errors(doc)
        if doc.get("kind") == "Configuration":
            block = (doc.get("spec") or {}).get("nameResolution")
            if isinstance(block, Mapping):
                errors += self.name_resolution_errors(block)
        return errors

    def check_file(self, path: Path) -> list[str]:
        """Every problem of one YAML file under components/ or dapr/, one line each."""
        text = path.read_text(encoding="utf-8")
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
        if path.parent.name == "nameresolution" and path.parent.parent.name == "dapr":
            # A fragment merged into spec.nameResolution by `sidecart run --profile`.
            wrapped = {
                "apiVersion": "dapr.io/v1alpha1",
                "kind": "Configuration",
                "metadata": {"name": "fragment"},
                "spec": {"nameResolution": docs[0] if docs else None},
            }
            return [f"{path}: {e}" for e in self.check_document(wrapped)]
        if len(docs) == 1 and isinstance(docs[0], dict) and "apps" in docs[0]:
            try:
                runfile.load(path)
            except SidecartError as exc:
                return [str(exc)]
            return []
        errors: list[str] = []
        for doc in docs:
            if not isinstance(doc, dict):
                errors.append(f"{path}: a document is not a mapping")
                continue
            errors += [f"{path}: {e}" for e in self.check_document(doc)]
        return errors


def resource_files(root: Path) -> list[Path]:
    """Every YAML file under components/ and dapr/ (symlinked defaults included)."""
    found: list[Path] = []
    for folder in (root / "components", root / "dapr"):
        found += sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")])
    return found


def _closed(schema: Any) -> Any:
    """The API server prunes unknown fields: here they are errors (additionalProperties: false)."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def _merge_field(fields: dict[str, dict[str, Any]], item: Mapping[str, Any]) -> None:
    """A field listed by several profiles (kafka's authType) allows every profile's values."""
    key = str(item["name"]).lower()
    if key not in fields:
        fields[key] = dict(item)
        return
    mine, theirs = fields[key].get("allowedValues"), item.get("allowedValues")
    if mine and theirs:
        fields[key]["allowedValues"] = [*mine, *[v for v in theirs if v not in mine]]
    elif not theirs:
        fields[key].pop("allowedValues", None)


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield str(key)
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def _value_problem(spec: Mapping[str, Any], value: Any) -> str | None:
    text = str(value)
    if "{" in text:  # templated ({appID}, {namespace}): resolved by daprd
        return None
    kind = spec.get("type", "string")
    if kind == "bool" and text.lower() not in {"true", "false", "1", "0"}:
        return f"{text!r} is not a bool"
    if kind == "number":
        try:
            float(text)
        except ValueError:
            return f"{text!r} is not a number"
    if kind == "duration" and not _DURATION.match(text):
        return f"{text!r} is not a duration (e.g. 15s, 1h)"
    allowed = spec.get("allowedValues")
    if allowed and text not in {str(a) for a in allowed}:
        return f"{text!r} is not one of {allowed}"
    return None


def _close_match(key: str, names: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(key.lower(), [n.lower() for n in names], n=1, cutoff=0.8)
    return found[0] if found else None
