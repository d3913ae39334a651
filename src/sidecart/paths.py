"""Where Sidecart finds the project and keeps what it installs."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def dapr_bin_dir() -> Path:
    """The standard place of the Dapr runtime binaries, shared with the Dapr CLI's `dapr init`."""
    return Path(os.environ.get("DAPR_INSTALL_DIR", Path.home() / ".dapr")) / "bin"


def cache_dir() -> Path:
    """Downloaded artefacts that are not Dapr binaries (Zipkin's jar, ...)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sidecart"


def state_dir() -> Path:
    """Data folders and logs of what `sidecart run` starts (SIDECART_STATE_DIR overrides)."""
    override = os.environ.get("SIDECART_STATE_DIR")
    return Path(override) if override else PROJECT_ROOT / ".sidecart"
