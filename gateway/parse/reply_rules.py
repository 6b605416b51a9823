"""The line patterns of reply splitting: quote headers and signature starts, per mail client.

Kept apart from the algorithm in :mod:`gateway.parse.reply` so a new client's quirk is one line
here. Every pattern is anchored to a whole (stripped) line and bounded, so a hostile body cannot
make them slow.
"""

from __future__ import annotations

import re

_COLON = r"[:：]"

# Separators after which everything is quoted history (one line is enough).
SEPARATORS = [re.compile(p, re.I) for p in (
    r"^-{2,}\s*(?:original message|original|原始邮件|原邮件|邮件原文|forwarded message|"
    r"转发邮件|message d'origine|ursprüngliche nachricht|mensaje original)\s*-{2,}$",  # Outlook,
    # Foxmail/QQ ("------------------ 原始邮件 ------------------"), Gmail forwards
    r"^-{5,}\s*(?:reply|回复|forward|转发)[^-]{0,40}-{5,}$",
    r"^(?:begin forwarded message|开始转发的邮件|以下为转发邮件)\s*[:：]?$",    # Apple Mail
    r"^={5,}\s*(?:原始邮件|original message)\s*={5,}$",
)]

# An attribution line introducing a quote: Gmail/Apple/Thunderbird in many languages, NetEase
# "在 2026-11-20 10:00:00，"张伟" <…> 写道：", Gmail zh "于2026年11月20日周五 10:00写道：".
ATTRIBUTIONS = [re.compile(p, re.I) for p in (
    r"^(?:>+\s*)?on\b.{0,300}\b(?:wrote|writes|said)\s*:?\s*$",
    r"^.{0,300}(?:写道|寫道|来信|來信)\s*[:：]\s*$",
    r"^(?:在|于|於).{0,200}(?:写道|寫道)\s*[:：]?\s*$",
    r"^le\b.{0,300}\ba écrit\s*:\s*$",
    r"^am\b.{0,300}\bschrieb.{0,100}:\s*$",
    r"^el\b.{0,300}\bescribió\s*:\s*$",
    r"^op\b.{0,300}\bschreef.{0,100}:\s*$",
    r"^(?:den|på)\b.{0,300}\bskrev.{0,100}:\s*$",
    r"^w dniu\b.{0,300}\bnapisał.{0,100}:\s*$",
    r"^.{0,300}\b(?:пишет|написал)\s*:\s*$",
    # Gmail zh-CN/old Gmail: "2026-11-20 10:00 GMT+08:00 X <x@y>:"
    r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}.{0,200}<[^>]+@[^>]+>\s*:?\s*$",
)]


def any_of(patterns: list[re.Pattern[str]]) -> re.Pattern[str]:
    """One alternation of ``patterns``: a single C-level scan per line instead of a loop."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.I)


SEPARATOR = any_of(SEPARATORS)
ATTRIBUTION = any_of(ATTRIBUTIONS)

# Only these openings may wrap onto a second or third line.
WRAPPED_ATTRIBUTION_START = re.compile(
    r"^(?:>+\s*)?(?:on\s|le\s|am\s|el\s|op\s|den\s|på\s|w dniu|在|于|於|\d{4}[-/.年])", re.I)


def attribution_hint(line: str) -> bool:
    """Cheap pre-check: every attribution ends with a colon, "wrote" or an address."""
    return line.endswith((":", "：", ">", "wrote", "writes")) and len(line) < 400


# Outlook-style header block fields ("From:/Sent:/To:/Subject:", "发件人:/发送时间:/收件人:/主题:"),
# optionally bold-starred as QQ Mail writes them in plain text ("*发件人:*").
HEADER_FIELD = re.compile(
    r"^\*?\s*(from|sent|date|to|cc|subject|reply-to|de|envoyé|à|objet|von|gesendet|an|betreff|"
    r"发件人|寄件者|發件人|发送时间|發送時間|寄件日期|日期|时间|收件人|收件者|抄送|副本|主题|主旨|"
    r"主題)\s*\*?\s*" + _COLON + r"\s*\*?", re.I)
FROM_FIELDS = frozenset({"from", "de", "von", "发件人", "寄件者", "發件人"})
UNDERSCORE_LINE = re.compile(r"^_{10,}$")

# Lines that start a signature and everything below them (client footers, RFC 3676 §4.3 "-- ").
SIGNATURE_STARTS = [re.compile(p, re.I) for p in (
    r"^--\s?$",
    r"^(?:发自|來自|来自|寄自|从)我的\s*(?:iphone|ipad|android|华为|小米|荣耀|手机|移动设备).{0,20}$",
    r"^从我的\s*\S{1,20}\s*发送$",
    r"^发自(?:网易邮箱大师|网易邮箱|qq邮箱|企业微信|钉钉|Outlook|手机QQ邮箱|.{1,12}邮箱).{0,30}$",
    r"^(?:sent|envoyé|enviado|gesendet)\s+(?:from|with|de|von|desde)\s+(?:my|mon|mein|mi)?\s*"
    r".{1,40}$",
    r"^sent from (?:mail|outlook|yahoo|samsung|my|windows).{0,60}$",
    r"^get outlook for (?:ios|android).{0,10}$",
    r"^(?:本邮件|此邮件|本电子邮件|本郵件)(?:及其附件)?(?:含有|包含|可能包含|仅供|中的信息).{0,200}$",
    r"^(?:confidentiality (?:notice|note)|disclaimer|免责声明|保密声明)\s*[:：]?.{0,200}$",
    r"^this (?:e-?mail|message)(?: and any attachments?)? (?:is|are|contains?|may contain)"
    r".{0,40}confidential.{0,200}$",
)]
SIGNATURE_START = any_of(SIGNATURE_STARTS)

# A closing that usually opens a short signature block (talon's "Thanks,\nJohn").
CLOSINGS = re.compile(
    r"^(?:best regards|kind regards|warm regards|regards|best wishes|best|cheers|sincerely|"
    r"thanks|thank you|many thanks|thanks again|br|b\.r\.?|b\.\s?r\.|yours|此致|敬礼|此致敬礼|"
    r"祝好|顺祝商祺|顺颂商祺|顺祝|祝商祺|谢谢|多谢|感谢)[\s,.!，。！]*$", re.I)

# Signature content lines: contacts a person puts under their name.
CONTACT = re.compile(
    r"(?:\b(?:tel|phone|mobile|mob|fax|cell|skype|wechat|email|e-mail|web|www)\b\.?\s*[:：.]?|"
    r"电话|手机|传真|邮箱|地址|微信|https?://|www\.|\S+@\S+\.\w+|\+?\d[\d\s()-]{7,}\d|^[tfm]\.\s)",
    re.I)
