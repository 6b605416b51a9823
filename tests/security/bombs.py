"""Builders of hostile mail for the attack suite: MIME bombs and a zip bomb."""

from __future__ import annotations

import base64
import struct
import zlib

HEAD = ("From: lina@xdyj.example.com\r\nTo: liuyang@xdyj.example.com\r\n"
        "Cc: proj-demo@gw.example.com\r\nDate: Tue, 24 Nov 2026 10:00:00 +0800\r\n"
        "MIME-Version: 1.0\r\n")


def deep_nesting(depth: int) -> bytes:
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'
                   for i in range(depth))
    tail = "".join(f"\r\n--b{i}--" for i in reversed(range(depth)))
    return (HEAD + f"Subject: deep\r\nMessage-ID: <deep-{depth}@xdyj.example.com>\r\n" + head
            + "Content-Type: text/plain\r\n\r\ndeep" + tail + "\r\n").encode()


def many_parts(count: int) -> bytes:
    parts = "".join(f"--s\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(count))
    return (HEAD + f"Subject: parts\r\nMessage-ID: <parts-{count}@xdyj.example.com>\r\n"
            f'Content-Type: multipart/mixed; boundary="s"\r\n\r\n{parts}--s--\r\n').encode()


def many_addresses(count: int) -> bytes:
    """A ``To:`` with ``count`` addresses, folded so no line passes 998 octets."""
    to = ",\r\n ".join(f"u{i}@example.cn" for i in range(count))
    return ("From: lina@xdyj.example.com\r\nCc: proj-demo@gw.example.com\r\n"
            f"To: {to}\r\nSubject: addresses\r\nMessage-ID: <to-{count}@xdyj.example.com>\r\n"
            "\r\nbody\r\n").encode()


def nested_rfc822(depth: int) -> bytes:
    inner = "Content-Type: message/rfc822\r\n\r\n" * depth + "Subject: inner\r\n\r\nx\r\n"
    return (HEAD + f"Subject: rfc822\r\nMessage-ID: <rfc822-{depth}@xdyj.example.com>\r\n"
            + inner).encode()


def with_attachment(subject: str, message_id: str, filename: str, ctype: str,
                    payload: bytes) -> bytes:
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (HEAD + f"Subject: {subject}\r\nMessage-ID: <{message_id}>\r\n"
            'Content-Type: multipart/mixed; boundary="z"\r\n\r\n'
            "--z\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n请查收附件。\r\n"
            f'--z\r\nContent-Type: {ctype}; name="{filename}"\r\n'
            f'Content-Disposition: attachment; filename="{filename}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + encoded + b"--z--\r\n"


def zip_bomb(entries: int = 4, size: int = 1 << 30) -> bytes:
    """A zip of ``entries`` files of ``size`` zero bytes each, without ever holding them.

    Deflate with a full flush after each 1 MiB resets the window, so every chunk compresses to
    the same bytes: the stream is one chunk's output repeated (RFC 1951 §3.2.3 blocks).
    """
    chunk = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = block * (size // len(chunk)) + compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    local, central = b"", b""
    for number in range(entries):
        name = f"zeros-{number}.bin".encode()
        fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0x21, crc, len(stream), size,
                             len(name), 0)
        central += (struct.pack("<IH", 0x02014B50, 20) + fields
                    + struct.pack("<HHHII", 0, 0, 0, 0, len(local)) + name)
        local += struct.pack("<I", 0x04034B50) + fields + name + stream
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(central),
                      len(local), 0)
    return local + central + end
