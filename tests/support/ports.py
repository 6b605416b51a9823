"""Free loopback ports for listeners that a test cannot start on port 0.

Listeners the tests start in-process bind port 0 and read back the port. A subprocess that must
come back on the same port after a restart (``kill -9`` of ``serve``, a Dovecot, a relay sink)
gets one reserved here instead: the kernel hands out a port no one holds, and the short window
until the subprocess binds it is harmless on loopback. Never a fixed port: other programs on the
machine hold the defaults (2525, 9425, 8425).
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
