"""The IMAP intake's durable position: per project mailbox, its UIDVALIDITY and last stored UID.

RFC 3501 §2.3.1.1: a UID names one message only together with the folder's UIDVALIDITY; when that
changes every UID is new, so the cursor starts over (intake dedup keeps the re-import to further
arrivals of messages already stored). The cursor only moves forward after the messages below it
are stored, so a restart never skips one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base, Id, fk, utcnow


class ImapCursor(Base):
    __tablename__ = "imap_cursors"
    __table_args__ = (UniqueConstraint("project_id", "account", "folder",
                                       name="uq_imap_cursors_mailbox"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), index=True)
    account: Mapped[str] = mapped_column(String(320))  # user@host:port
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
