"""Quoted header blocks recognised by their shape, in any language and layout.

Every client that quotes "Outlook style" writes a few short ``label: value`` lines about the
original — 发件人/发送时间/收件人/主题, From/Sent/To/Subject, Von/Gesendet/An/Betreff,
差出人/送信日時, 보낸 사람/보낸 날짜… — sometimes under a rule line, sometimes with blank
lines between the fields (Outlook HTML rendered as text), bold-starred (QQ Mail plain text),
with ideographic spaces inside the label (DingTalk/Alimail "主　题"), or as a table
("| From | x |", NetEase Mail Master). A block is a quote header when its lines look like
fields and it carries what a header carries: a sender label or an address, and a date. Known
labels make weaker evidence enough; they are not required.

Each check looks at a bounded window of lines, so scanning a body stays linear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.parse import reply_rules as rules

_WINDOW = 16          # lines a block may span (fields, blank lines, wrapped address lists)
_MAX_LABEL = 24

# "label: value", "label：value", "*label:* value", "| label | value |", "label | value".
_FIELD = re.compile(r"^[|*\s]*([^\s:：|*\d][^:：|*\d]{0,24}?)\s*\**\s*(?:[:：]|\s\|)"
                    r"\s?\**\s*(.*)$")
_LABEL_OK = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ \u3000'’.()-]){0,23}$")

_KINDS: dict[str, frozenset[str]] = {
    "from": frozenset({
        "from", "de", "von", "da", "från", "fra", "van", "od", "от", "від", "lähettäjä",
        "feladó", "kimden", "afzender", "absender", "odesílatel", "remitente", "sender",
        "差出人", "送信者", "보낸사람", "发件人", "發件人", "寄件者", "寄件人", "由", "发信人"}),
    "date": frozenset({
        "sent", "date", "datum", "envoyé", "gesendet", "data", "skickat", "sendt", "verzonden",
        "wysłano", "wysłane", "отправлено", "дата", "enviado", "enviada", "fecha", "lähetetty",
        "päivämäärä", "送信日時", "日付", "日時", "보낸날짜", "날짜", "发送时间", "發送時間",
        "寄件日期", "日期", "时间", "時間", "发送日期", "發送日期", "送信日", "tarih", "gönderildi",
        "dátum", "elküldve", "odesláno", "надіслано", "senttime", "inviato", "inviata",
        "发信时间", "发件时间", "发件日期", "sentat", "verstuurd", "sendtime"}),
    "to": frozenset({
        "to", "à", "an", "a", "till", "til", "aan", "do", "кому", "para", "vastaanottaja",
        "címzett", "kime", "komu", "宛先", "받는사람", "수신", "收件人", "收件者", "至",
        "destinatario", "destinataire", "empfänger", "收信人", "recipient", "recipients"}),
    "cc": frozenset({
        "cc", "bcc", "kopie", "copie", "kopia", "копия", "copia", "kopio", "másolat", "bilgi",
        "抄送", "副本", "抄送人", "참조", "cc'd", "kopi", "копія"}),
    "subject": frozenset({
        "subject", "objet", "betreff", "oggetto", "ämne", "emne", "onderwerp", "temat", "тема",
        "asunto", "assunto", "aihe", "件名", "제목", "主题", "主題", "主旨", "標題", "标题",
        "tárgy", "konu", "předmět", "betreft", "sujet"}),
    "other": frozenset({
        "reply-to", "回复至", "答复至", "importance", "重要性", "priority", "attachments", "附件",
        "organization", "sent time", "message-id"}),
}
_KIND_OF = {label: kind for kind, labels in _KINDS.items() for label in labels}


@dataclass(frozen=True, slots=True)
class Field:
    """One ``label: value`` line; ``kind`` is from/date/to/cc/subject/other or "" (unknown)."""

    label: str
    value: str
    kind: str


def field_of(text: str) -> Field | None:
    """The field a stripped line is, if it has the shape of one."""
    if not text or len(text) > rules.MAX_LINE:
        return None
    head = text[:_MAX_LABEL + 6]
    if ":" not in head and "：" not in head and "|" not in head:
        return None  # cheap pre-check: every field has its separator near the start
    found = _FIELD.match(text)
    if found is None:
        return None
    label = found.group(1).strip(" \u3000'’.")
    if not _LABEL_OK.match(label) or len(label.split()) > 3:
        return None
    value = found.group(2).strip()
    if " | " in value.rstrip(" |"):
        return None  # a row of a wider table ("| deflate | 262144 | 466 MiB/s |"), not a field
    key = re.sub(r"[\s\u3000]+", "", label.lower())
    return Field(label=label, value=value.strip(" |*;；"), kind=_KIND_OF.get(key, ""))


def inline_header(text: str) -> bool:
    """Outlook's whole header on one line: "From: X Sent: Y To: Z Subject: W"."""
    if len(text) > 2 * rules.MAX_LINE:
        return False
    first = field_of(text)
    if first is None or first.kind != "from":
        return False
    kinds = {_KIND_OF.get(label.lower(), "") for label in
             re.findall(r"(?:^|\s)([^\W\d_][^\s:：]{0,15})\s?[:：]", text[:2 * rules.MAX_LINE])}
    return len(kinds & {"from", "date", "to", "subject", "cc"}) >= 3


def block_at(texts: list[str], index: int, shapes: list[Field | None]) -> int:
    """Index after the header block starting at ``texts[index]``, or 0 when there is none.

    ``texts`` are stripped lines and ``shapes`` their :func:`field_of`. A block is two or more
    field lines with at most one blank line between neighbours; a line right after a known label
    with no value is its value, and a line with an address after a To/Cc field continues it.
    """
    fields: list[Field] = []
    end = index
    blanks = 0
    for position in range(index, min(index + _WINDOW, len(texts))):
        text = texts[position]
        if not text:
            blanks += 1
            if blanks > 1 or not fields:
                break
            continue
        field = shapes[position]
        if field is None:
            if fields and not blanks and fields[-1].kind and not fields[-1].value:
                # "<div><b>发件人:</b></div><div>李娜</div>": the value on the label's next line
                fields[-1] = Field(fields[-1].label, text, fields[-1].kind)
                end = position + 1
                continue
            if fields and fields[-1].kind in ("to", "cc") and rules.ADDRESS.search(text) \
                    and not blanks:
                end = position + 1
                continue
            break
        if position == index and field.kind not in ("from", "date", "to", "subject", ""):
            return 0
        blanks = 0
        fields.append(field)
        end = position + 1
    if fields and not fields[0].kind and any(f.kind for f in fields) \
            and not rules.ADDRESS.search(fields[0].value):
        return 0  # "注意：…" above a known header is own text; the block starts at the known label
    return end if _is_header(fields) else 0


def _is_header(fields: list[Field]) -> bool:
    if len(fields) < 2:
        return False
    kinds = {f.kind for f in fields} - {""}
    has_date = any(rules.DATE.search(f.value) and not rules.ADDRESS.search(f.value)
                   for f in fields if f.kind in ("date", ""))
    has_address = any(rules.ADDRESS.search(f.value) for f in fields)
    if "from" in kinds and (has_date or len(kinds) >= 3 or (len(kinds) >= 2 and has_address)):
        return True  # From + Sent/To/Subject: Outlook, QQ, Foxmail in any known language
    if len(kinds & {"from", "date", "to", "subject", "cc"}) >= 3:
        return True  # 至/日期/主题 without a sender line
    # Unknown language: three short fields, the sender's address among the first two, and a
    # value that reads as a date (a patch's "Closes: …/issues/2087" does not).
    return (len(fields) >= 3 and fields[0].kind in ("from", "")
            and any(rules.ADDRESS.search(f.value) for f in fields[:2])
            and any(rules.looks_like_date(f.value) for f in fields
                    if not rules.ADDRESS.search(f.value)))
