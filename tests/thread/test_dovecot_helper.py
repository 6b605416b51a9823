"""The throw-away Dovecot helper itself: login, both ways of filing mail, THREAD, restart."""

from __future__ import annotations

from pathlib import Path

from tests.support.dovecot import DovecotServer

PARENT = b"Message-ID: <p@x>\r\nSubject: hello\r\n\r\nbody\r\n"
REPLY = b"Message-ID: <r@x>\r\nIn-Reply-To: <p@x>\r\nSubject: Re: hello\r\n\r\nbody\r\n"


def test_dovecot_serves_threads_and_survives_a_restart(tmp_path: Path) -> None:
    with DovecotServer(tmp_path) as server:
        server.deliver("INBOX", PARENT)
        server.append("INBOX", REPLY)
        server.append("Other", PARENT)
        with server.connect() as imap:
            assert b"THREAD=REFERENCES" in imap.capabilities()
            imap.select_folder("INBOX")
            assert imap.thread(algorithm="REFERENCES", criteria="ALL", charset="UTF-8") == \
                ((1, 2),)
        port = server.port
        server.restart()
        assert server.port == port
        with server.connect() as imap:
            assert imap.select_folder("Other")[b"EXISTS"] == 1
    assert not server.maildir.exists()  # close() removed the mail
