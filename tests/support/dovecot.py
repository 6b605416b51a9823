"""A throw-away Dovecot IMAP server on loopback, for tests that need a real IMAP peer.

::

    server = DovecotServer(tmp_path).start()      # skips the test when dovecot is missing
    server.deliver("INBOX", raw_bytes)             # straight into the Maildir (fast, no IMAP)
    server.append("Archive", raw_bytes)            # through IMAP APPEND (creates the mailbox)
    with server.connect() as imap: ...             # a logged-in imapclient.IMAPClient
    server.restart(); server.stop()                # mail kept: start() again finds it
    server.close()                                 # stop and remove the mail

Plain-text LOGIN is allowed on 127.0.0.1 only, users come from a passwd-file, mail lives in
``<mail_root>/<user>/Maildir``. Dovecot runs as the current user (its "rootless" mode); when
that is root, the mail processes run as ``nobody`` (Dovecot refuses uid 0 for mail access) and
the mail lives in a private ``/tmp`` folder instead (pytest's ``tmp_path`` is private to root).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

import pytest
from imapclient import IMAPClient

from tests.support.ports import free_port

DOVECOT = os.environ.get("COMMGATE_DOVECOT", shutil.which("dovecot") or "/usr/sbin/dovecot")


class DovecotServer:
    """One Dovecot instance with one user, configured under ``root``."""

    def __init__(self, root: Path, *, user: str = "tester", password: str = "secret") -> None:
        self.root = Path(root) / f"dovecot-{uuid.uuid4().hex[:6]}"
        self.host = "127.0.0.1"
        self.port = 0
        self.user = user
        self.password = password
        self._proc: subprocess.Popen[bytes] | None = None
        # Dovecot refuses uid 0 for mail access ("userdb returned 0 as uid"): as root, mail
        # belongs to "nobody" and lives in a folder of its own that "nobody" can reach.
        account = pwd.getpwuid(os.getuid()) if os.getuid() else pwd.getpwnam("nobody")
        self._uid, self._gid = account.pw_uid, account.pw_gid
        self.mail_root = (self.root / "mail" if os.getuid() else
                          Path(tempfile.gettempdir()) / f"commgate-dovecot-{uuid.uuid4().hex}")
        # Dovecot's sockets live in base_dir, and a unix socket's path has at most 107 bytes:
        # under pytest-xdist (".../popen-gw1/<test name>/...") the test's folder is too long.
        self.run_dir = Path(tempfile.mkdtemp(prefix="cgdv-"))

    @property
    def maildir(self) -> Path:
        return self.mail_root / self.user / "Maildir"

    @staticmethod
    def _identity() -> str:
        """Root uses the package's dovecot/dovenull users; anyone else runs it all as self."""
        if os.getuid() == 0:
            return "default_internal_user = root\n"
        me = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        return (f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                f"default_internal_group = {group}\n")

    def _write_config(self) -> Path:
        (self.root / "state").mkdir(parents=True, exist_ok=True)
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        conf = self.root / "dovecot.conf"
        conf.write_text(f"""\
base_dir = {self.run_dir}
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = {self.host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
{self._identity()}first_valid_uid = {min(self._uid, 500)}
service auth {{
  user = $default_internal_user
}}
mail_location = maildir:~/Maildir
mailbox_list_index = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={self._uid} gid={self._gid} home={self.mail_root}/%u
}}
service imap-login {{
  {"" if os.getuid() == 0 else "chroot ="}
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  {"" if os.getuid() == 0 else "chroot ="}
}}
""")
        self.mail_root.mkdir(mode=0o711, parents=True, exist_ok=True)
        os.chown(self.mail_root, self._uid, self._gid)
        return conf

    def start(self, timeout: float = 10.0) -> DovecotServer:
        """Configure and start; wait until the IMAP port answers. Skips if Dovecot is absent."""
        if not Path(DOVECOT).exists():
            pytest.skip(f"Dovecot is not installed ({DOVECOT}): apt-get install dovecot-imapd")
        if not self.port:
            self.port = free_port()
        conf = self._write_config()
        self._proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                self.stop()  # closes its pipe
                raise RuntimeError(f"dovecot exited: {err}{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {self.log()}")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None

    def close(self) -> None:
        """Stop and delete the mail."""
        self.stop()
        shutil.rmtree(self.mail_root, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def restart(self) -> DovecotServer:
        """Stop and start again on the same port with the same mail."""
        self.stop()
        return self.start()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def connect(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(self.user, self.password)
        return client

    def deliver(self, mailbox: str, raw: bytes) -> Path:
        """Drop one message into the mailbox's Maildir ``new/`` (Dovecot picks it up)."""
        folder = self.maildir if mailbox.upper() == "INBOX" else self.maildir / f".{mailbox}"
        if not (folder / "new").is_dir():
            for path in (self.maildir.parent, self.maildir, folder, *(folder / sub for sub in
                                                                    ("tmp", "new", "cur"))):
                path.mkdir(exist_ok=True)
                os.chown(path, self._uid, self._gid)
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.commgate"
        tmp = folder / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self._uid, self._gid)
        target = folder / "new" / name
        tmp.rename(target)
        return target

    def append(self, mailbox: str, raw: bytes) -> None:
        """APPEND one message over IMAP, creating the mailbox when needed."""
        with self.connect() as imap:
            if mailbox.upper() != "INBOX" and not imap.folder_exists(mailbox):
                imap.create_folder(mailbox)
            imap.append(mailbox, raw)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
