"""``python -m gateway`` runs the ``commgate`` command line."""

from gateway.cli.main import run

if __name__ == "__main__":  # not when a child process (gateway/inbound/writer.py) imports it
    run()
