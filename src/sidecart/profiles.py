"""Infrastructure profiles: which pub/sub, state store and name resolution a run uses.

A profile is a pub/sub choice x a state choice x a name-resolution choice, written as a comma
list: `kafka,postgres`, `rabbitmq`, `state=sqlite,names=sqlite`. A bare name picks its own axis
(`redis` is both the default pub/sub and the default state store); `names=` is needed for the
SQLite name resolution, since a bare `sqlite` means the state store.

The run file stays the source of truth: a profile only swaps its `components/pubsub/<x>` and
`components/state/<x>` resources folders for the chosen ones, and merges the chosen
`dapr/nameresolution/<x>.yaml` into the Configuration. Every profile defines the same
component names and scopes, so no application code changes.

Before anything starts, `check_capabilities` refuses a profile whose components lack what the
app relies on (transactions for the outbox, ETags, TTL), in one line naming the gap.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sidecart.components import Component
from sidecart.errors import SidecartError
from sidecart.paths import PROJECT_ROOT

ENV_VAR = "SIDECART_PROFILE"

PUBSUB = ("redis", "kafka", "rabbitmq", "jetstream")
STATE = ("redis", "postgres", "etcd", "sqlite")
NAMES = ("mdns", "sqlite", "consul")
NOT_RUNNABLE = {
    ("names", "consul"): (
        "no Consul agent can be installed from the registries this machine reaches; "
        "dapr/nameresolution/consul.yaml is kept schema-checked only"
    ),
}
AXES: dict[str, tuple[str, ...]] = {"pubsub": PUBSUB, "state": STATE, "names": NAMES}
_AXIS_ALIASES = {"nameresolution": "names", "nr": "names", "statestore": "state"}
_BARE = {"kafka": "pubsub", "rabbitmq": "pubsub", "jetstream": "pubsub", "postgres": "state"}
_BARE |= {"etcd": "state", "sqlite": "state", "mdns": "names", "consul": "names"}


def components_dir() -> Path:
    return PROJECT_ROOT / "components"


def nameresolution_dir() -> Path:
    return PROJECT_ROOT / "dapr" / "nameresolution"


@dataclass(frozen=True)
class Profile:
    pubsub: str = "redis"
    state: str = "redis"
    names: str = "mdns"

    @property
    def label(self) -> str:
        """The shortest spec that means this profile: `redis`, `kafka,postgres`, ..."""
        parts = [v for v, d in ((self.pubsub, "redis"), (self.state, "redis")) if v != d]
        if self.names != "mdns":
            parts.append(f"names={self.names}")
        return ",".join(parts) or "redis"

    @property
    def is_default(self) -> bool:
        return self == Profile()

    def not_runnable(self) -> str | None:
        for axis, value in (("pubsub", self.pubsub), ("state", self.state), ("names", self.names)):
            reason = NOT_RUNNABLE.get((axis, value))
            if reason is not None:
                return f"profile {self.label}: {axis} {value!r} is not runnable here: {reason}"
        return None


def _pairs(spec: str | None, word: str) -> list[tuple[str, str]]:
    """One word of a profile spec -> the (axis, value) choices it makes."""
    if "=" in word:
        axis, _, value = (w.strip() for w in word.partition("="))
        axis = _AXIS_ALIASES.get(axis, axis)
        if axis not in AXES:
            raise SidecartError(
                f"profile {spec!r}: unknown axis {axis!r} (use pubsub=, state= or names=)"
            )
        pairs = [(axis, value)]
    elif word == "redis":
        pairs = [("pubsub", "redis"), ("state", "redis")]
    elif word in _BARE:
        pairs = [(_BARE[word], word)]
    else:
        known = sorted({*PUBSUB, *STATE, *NAMES})
        raise SidecartError(f"profile {spec!r}: unknown name {word!r} (known: {known})")
    for axis, value in pairs:
        if value not in AXES[axis]:
            raise SidecartError(
                f"profile {spec!r}: {axis} {value!r} is not one of {list(AXES[axis])}"
            )
    return pairs


def _words(spec: str | None) -> list[str]:
    return [w.strip().lower() for w in (spec or "").split(",") if w.strip()]


def parse(spec: str | None) -> Profile:
    """`kafka,postgres` -> Profile(pubsub='kafka', state='postgres'); empty -> the default."""
    chosen: dict[str, str] = {}
    for word in _words(spec):
        for axis, value in _pairs(spec, word):
            if chosen.get(axis, value) != value:
                raise SidecartError(
                    f"profile {spec!r}: {axis} given twice ({chosen[axis]!r} and {value!r})"
                )
            chosen[axis] = value
    return Profile(**chosen)


def satisfies(profile: Profile, spec: str) -> bool:
    """Whether `profile` makes every choice `spec` names: `kafka` holds for `kafka,postgres`."""
    return all(
        getattr(profile, axis) == value
        for word in _words(spec)
        for axis, value in _pairs(spec, word)
    )


def from_env(spec: str | None = None) -> Profile:
    """The profile asked for, else $SIDECART_PROFILE, else the default."""
    return parse(spec if spec is not None else os.environ.get(ENV_VAR))


def all_profiles() -> list[Profile]:
    return [Profile(p, s, n) for p, s, n in itertools.product(PUBSUB, STATE, NAMES)]


def matrix_profiles() -> list[Profile]:
    """Every choice at least once, beside the default, plus the pairs CI cares about."""
    rows = [Profile()]
    rows += [Profile(pubsub=p) for p in PUBSUB if p != "redis"]
    rows += [Profile(state=s) for s in STATE if s != "redis"]
    rows += [Profile(names=n) for n in NAMES if n != "mdns"]
    rows += [Profile("kafka", "postgres"), Profile("rabbitmq", "etcd", "sqlite")]
    rows += [Profile("jetstream", "sqlite")]
    return rows


# --- swapping the run file's resources ---------------------------------------------------------


def swap_resources_paths(paths: Sequence[Path], profile: Profile) -> list[Path]:
    """Replace `components/pubsub/*` and `components/state/*` folders by the profile's."""
    root = components_dir().resolve()
    chosen = {"pubsub": profile.pubsub, "state": profile.state}
    out: list[Path] = []
    for path in paths:
        resolved = path.resolve()
        kind = resolved.parent.name if resolved.parent.parent == root else None
        if kind in chosen:
            target = root / kind / chosen[kind]
            if not target.is_dir():
                raise SidecartError(f"profile {profile.label}: {target} does not exist")
            out.append(target)
        else:
            out.append(path)
    for kind, value in chosen.items():
        wanted = root / kind / value
        if value != "redis" and wanted not in out:
            raise SidecartError(
                f"profile {profile.label}: the run file has no components/{kind}/ folder "
                f"in its resourcesPaths to swap for {wanted}"
            )
    return out


def name_resolution(profile: Profile) -> dict[str, Any]:
    """The `spec.nameResolution` block of the chosen name resolution."""
    path = nameresolution_dir() / f"{profile.names}.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SidecartError(f"{path}: name-resolution fragment not found") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("component"), str):
        raise SidecartError(f"{path}: expected a mapping with at least `component: <name>`")
    return doc


def merge_name_resolution(config: dict[str, Any], profile: Profile, data_dir: Path) -> None:
    """Put the profile's name resolution into a Configuration document (in place).

    A SQLite database path that is relative is placed in the run's data folder, so that every
    sidecar of one run shares it and no two runs do.
    """
    block = name_resolution(profile)
    settings = block.get("configuration")
    if block["component"] == "sqlite" and isinstance(settings, dict):
        target = settings.get("connectionString")
        if isinstance(target, str) and not Path(target).is_absolute():
            data_dir.mkdir(parents=True, exist_ok=True)
            settings["connectionString"] = str(data_dir / target)
    config.setdefault("spec", {})["nameResolution"] = block


# --- capabilities -------------------------------------------------------------------------------

TRANSACTIONS = "transactions"
ETAG = "etag"
TTL = "ttl"

# What each state store type offers, from its Features() in components-contrib v1.18.0 (a unit
# test reads the Go sources to keep this table honest).
STATE_CAPABILITIES: dict[str, frozenset[str]] = {
    "state.redis": frozenset({TRANSACTIONS, ETAG, TTL}),
    "state.postgresql": frozenset({TRANSACTIONS, ETAG, TTL}),
    "state.etcd": frozenset({TRANSACTIONS, ETAG, TTL}),
    "state.sqlite": frozenset({TRANSACTIONS, ETAG, TTL}),
    "state.in-memory": frozenset({TRANSACTIONS, ETAG, TTL}),
    "state.memcached": frozenset({TTL}),
    "state.cassandra": frozenset({TTL}),
    "state.zookeeper": frozenset({ETAG}),
    "state.couchbase": frozenset({ETAG}),
}

# What the shop relies on, by component name (the names are roles, see docs/architecture.md).
REQUIRED: dict[str, frozenset[str]] = {
    "statestore": frozenset({TRANSACTIONS, ETAG, TTL}),
    "orderstore": frozenset({TRANSACTIONS, ETAG}),
}
_WHY = {
    TRANSACTIONS: "transactions",
    ETAG: "ETags (optimistic concurrency)",
    TTL: "TTL",
}


def required_capabilities(component: Component) -> dict[str, str]:
    """capability -> why the app needs it, for one component."""
    wanted = {
        c: f"{component.name} is used with {_WHY[c]}" for c in REQUIRED.get(component.name, ())
    }
    if component.metadata.get("outboxPublishPubsub"):
        wanted[TRANSACTIONS] = (
            f"{component.name} publishes through the outbox "
            f"(outboxPublishPubsub: {component.metadata['outboxPublishPubsub']})"
        )
    return wanted


def check_capabilities(components: Iterable[Component]) -> None:
    """Refuse, in one line, a state store that lacks what the app relies on."""
    for component in components:
        if not component.type.startswith("state."):
            continue
        wanted = required_capabilities(component)
        if not wanted:
            continue
        offered = STATE_CAPABILITIES.get(component.type)
        if offered is None:
            raise SidecartError(
                f"{component.path}: component {component.name!r} ({component.type}) is not in "
                "Sidecart's capability table (sidecart.profiles.STATE_CAPABILITIES): add it "
                "once you know it supports " + ", ".join(_WHY[c] for c in sorted(wanted))
            )
        for capability in sorted(wanted):
            if capability not in offered:
                raise SidecartError(
                    f"{component.path}: component {component.name!r} ({component.type}) has no "
                    f"{_WHY[capability]}, but {wanted[capability]}"
                )
