"""What every Sidecart service shares: settings base, JSON logs, tracing, serving."""
