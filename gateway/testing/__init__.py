"""What tests and the demo use to drive the gateway: a clock that moves only when told.

Nothing in the pipeline imports this package; it has no third-party dependencies, so it ships
with the gateway (``commgate demo`` runs its story on :class:`~gateway.testing.clock.FakeClock`).
"""
