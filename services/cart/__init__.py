"""The cart service (see docs/architecture.md)."""
