"""The ``commgate`` command line: one module per command group (main: start-up)."""
