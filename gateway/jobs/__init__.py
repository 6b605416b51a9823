"""Background work: dramatiq actors and broker, the periodic scheduler."""
