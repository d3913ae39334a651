"""The ordering service (see docs/architecture.md)."""
