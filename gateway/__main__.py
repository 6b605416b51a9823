"""``python -m gateway`` runs the ``commgate`` command line."""

from gateway.cli import run

run()
