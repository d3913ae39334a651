"""The notification service (see docs/architecture.md)."""
