"""IMAP intake test support: a Dovecot per test (tests/support/dovecot.py), optionally with TLS,
and the ``[imap]`` table written into the demo project's config for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.dovecot import DovecotServer, free_port

PASSWORD_ENV = "COMMGATE_IMAP_DEMO_PASSWORD"


class TlsDovecot(DovecotServer):
    """Dovecot with our self-signed certificate: STARTTLS on the imap port, and imaps."""

    def __init__(self, root: Path, *, cert: Path, key: Path) -> None:
        super().__init__(root)
        self.cert, self.key = cert, key
        self.tls_port = free_port()

    def _write_config(self) -> Path:
        conf = super()._write_config()
        text = conf.read_text()
        assert "ssl = no" in text and "inet_listener imaps {\n    port = 0" in text
        text = text.replace("ssl = no", f"ssl = required\nssl_cert = <{self.cert}\n"
                                        f"ssl_key = <{self.key}")
        text = text.replace("inet_listener imaps {\n    port = 0",
                            f"inet_listener imaps {{\n    address = {self.host}\n"
                            f"    port = {self.tls_port}")
        conf.write_text(text)
        return conf


def imap_table(server: DovecotServer, **options: Any) -> str:
    """The ``[imap]`` TOML table pointing the demo project at ``server``."""
    values: dict[str, Any] = {"host": server.host, "port": server.port, "security": "none",
                              "user": server.user, "password_env": PASSWORD_ENV,
                              "poll_interval": 0.2, "max_backoff": 0.5, **options}
    lines = ["", "[imap]"]
    for key, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{key} = {value}")
        else:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key} = "{escaped}"')
    return "\n".join(lines) + "\n"


def configure_imap(config_dir: Path, server: DovecotServer, **options: Any) -> None:
    demo = config_dir / "projects" / "demo.toml"
    text = demo.read_text(encoding="utf-8")
    if "\n[imap]\n" in text:
        text = text[: text.index("\n[imap]\n")]
    demo.write_text(text + imap_table(server, **options), encoding="utf-8")


def flags_of(server: DovecotServer, folder: str = "INBOX") -> dict[bytes, set[bytes]]:
    """Message-ID header value → flags, as the IMAP server sees them."""
    out: dict[bytes, set[bytes]] = {}
    with server.connect() as imap:
        if not imap.folder_exists(folder):
            return out
        imap.select_folder(folder, readonly=True)
        uids = imap.search(["ALL"])
        if not uids:
            return out
        for item in imap.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).values():
            header = item[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].strip()
            out[header.split(b":", 1)[1].strip()] = set(item[b"FLAGS"])
    return out
