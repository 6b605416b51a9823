"""What ``commgate serve`` runs: listener, ops, reload, logs, metrics."""
