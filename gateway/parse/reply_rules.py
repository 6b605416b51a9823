"""The line patterns of reply splitting: separators, attributions, footers and closings.

Kept apart from the algorithm in :mod:`gateway.parse.reply` (and the header-block shapes in
:mod:`gateway.parse.reply_headers`) so a new client's quirk is one line here. Patterns are judged
on one stripped line of bounded length, with no nested repetition, so a hostile body stays linear.
"""

from __future__ import annotations

import re

MAX_LINE = 500            # longer lines are never a quote header, footer or attribution

# Words that name the quoted original in a separator line ("-----Original Message-----",
# QQ/Foxmail "------------------ 原始邮件 ------------------", NetEase Mail Master
# "---- 回复的原邮件 ----" / "---- Replied Message ----", Samsung "-------- 原始信息 --------").
_ORIGINAL_WORDS = (
    r"original message|original|forwarded message|replied message|reply message|"
    r"原始邮件|原邮件|邮件原件|原始消息|邮件原文|原文|原信|原邮件信息|原始信息|原始郵件|原始訊息|回复的原邮件|回復的原郵件|转发邮件|转发的邮件|"
    r"轉寄郵件|message d'origine|message original|message transféré|ursprüngliche nachricht|"
    r"originalnachricht|weitergeleitete nachricht|mensaje original|mensaje reenviado|"
    r"mensagem original|mensagem encaminhada|messaggio originale|messaggio inoltrato|"
    r"oorspronkelijk bericht|origineel bericht|doorgestuurd bericht|originalmeddelande|"
    r"ursprungligt meddelande|vidarebefordrat meddelande|oprindelig meddelelse|"
    r"opprinnelig melding|videresendt melding|alkuperäinen viesti|välitetty viesti|"
    r"wiadomość oryginalna|oryginalna wiadomość|przekazana wiadomość|původní zpráva|"
    r"исходное сообщение|оригинальное сообщение|пересланное сообщение|元のメッセージ|"
    r"転送されたメッセージ|원본 메시지|원본 메일|원래 메시지|전달된 메시지|orijinal mesaj|"
    r"eredeti üzenet")

SEPARATORS = [re.compile(p, re.I) for p in (
    r"^[-=~_*—─－＝]{2,}\s*(?:" + _ORIGINAL_WORDS + r")\s*[-=~_*—─－＝]{2,}$",
    r"^[【\[]\s*(?:原始邮件|原邮件|original message)\s*[】\]]$",
    r"^-{5,}\s*(?:reply|回复|forward|转发)[^-]{0,40}-{5,}$",
    r"^(?:begin forwarded message|开始转发的邮件|以下为转发邮件|転送されたメッセージ)\s*[:：]?$",
)]

# The same words alone on a line: QQ Mail's newer quote puts "Original"/"原始邮件" above its
# header table; it counts only directly above a header block.
LONE_ORIGINAL = re.compile(r"^[-=_~\s]*(?:" + _ORIGINAL_WORDS + r")[-=_~\s:：]*$", re.I)

# A rule line that may stand above a header block: Outlook's underscores, Alimail/DingTalk's
# dashes, plain <hr> rendered by reply_html.
RULE_LINE = re.compile(r"^(?:_{8,}|-{8,}|={8,}|—{4,}|─{4,})$")

# "Wrote" verbs ending an attribution, in the languages mail clients ship. Both "napisał(a)" and
# "написал(а)" are how Gmail/Thunderbird write the gender-neutral forms. Plain strings: checked
# with one ``str.endswith`` per line, the hottest test of reply splitting.
WROTE_VERBS = (
    "wrote", "writes", "has written", "a écrit", "a ecrit", "schrieb", "schreef", "escribió",
    "escribio", "escreveu", "scrisse", "ha scritto", "napisał(a)", "napisała", "napisał",
    "napisal", "napsal(a)", "napsala", "napsal", "napísal", "написал(а)", "написала", "написал",
    "пишет", "пише", "написав", "skrev", "kirjoitti", "írta", "yazdı", "a scris", "έγραψε",
    "rašė", "rakstīja", "kirjutas", "je napisao", "je napisal", "写道", "寫道", "撰写", "撰寫",
    "来信", "來信", "書きました", "のメール", "작성", "쓴 글", "viết", "menulis", "geschreven",
    "het volgende geschreven", "folgendes geschrieben", "geschrieben", "pisze", "napisala",
    "kirjoitti", "skrev følgende", "escribio")


# The verb inside: "Am 24.11.26 um 10:00 schrieb Li Na:", "Op … schreef X:", "Den … skrev X:".
VERB_INSIDE = re.compile(r"(?<!\w)(?:wrote|schrieb|schreef|skrev|napsal|napisał|napisal|napisana|"
                         r"написал|пишет|kirjoitti|escribió|escreveu|scrisse|yazdı|írta|"
                         r"geschreven|geschrieben)(?!\w)|写道|寫道", re.I)


def ends_with_wrote(text: str) -> bool:
    """Does ``text`` end with a "wrote" verb, a colon after it allowed?"""
    return text.rstrip(" :：").lower().endswith(WROTE_VERBS)


# Words an attribution opens with: "On …", "Le …", "Am …", "El …", "Em …", "Il giorno …",
# "Op …", "Den …", "På …", "W dniu …", "Dne …", "在 …", "于 …".
OPENING = re.compile(
    r"^(?:>+\s*)?(?:on|le|am|el|em|il|op|den|på|w dniu|dne|в|在|于|於)\s",
    re.I)
OPENING_CJK = re.compile(r"^(?:>+\s*)?(?:在|于|於)")

# Gmail ja/ru/zh write no verb: "2026年11月20日(金) 10:00 Zhang Wei <zw@x.cn>:".
ADDRESS_COLON_END = re.compile(r"(?:<[^<>\s]{1,200}@[^<>\s]{1,200}>|@[\w-]+(?:\.[\w-]+)+)\s*"
                               r"[)\]]?\s*[:：]$")

ADDRESS = re.compile(r"[\w.+'-]@[\w-]+\.[\w.-]|<[^<>\s]{0,200}@|\[mailto:", re.I)
# A year or a time of day, not digits inside an address ("midwinter1993@…") or a number.
DATE = re.compile(r"(?<![A-Za-z0-9])(?:19|20)\d\d(?![0-9])|(?<![0-9])\d{1,2}[:：]\d\d(?![0-9])|"
                  r"(?<![0-9])\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?![0-9])|\d{1,2}\s*月\s*\d{1,2}\s*日")

# A header's date value carries two of: a year, a time, a day-month pair, a month or weekday name.
_DATE_PARTS = [re.compile(p, re.I) for p in (
    r"(?<![A-Za-z0-9./-])(?:19|20)\d\d(?![0-9])",
    r"(?<![0-9.])(?:[01]?\d|2[0-3])[:：]\d\d(?![0-9])",
    r"(?<![0-9.])(?:0?[1-9]|[12]\d|3[01])\s?[-/.]\s?(?:0?[1-9]|1[0-2])(?![0-9])|"
    r"(?<![0-9.])(?:0?[1-9]|1[0-2])\s?[-/.]\s?(?:0?[1-9]|[12]\d|3[01])(?![0-9])|"
    r"\d{1,2}\s*月\s*\d{1,2}\s*日",
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s|"
    r"\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|星期|周[一二三四五六日天]|週[一二三四五六日]|"
    r"[月火水木金土日]曜|[월화수목금토일]요일|\([월화수목금토일]\)",
)]


def looks_like_date(value: str) -> bool:
    """Does a header value read as a date ("2026年11月24日 10:00", "Tue, Nov 24, 2026")?"""
    return sum(1 for part in _DATE_PARTS if part.search(value)) >= 2


# Zoho Mail: "---- On Fri, 20 Nov 2026 … <zw@x.cn> wrote ----", "---- 在 … 撰写 ----".
ZOHO_FRAME = re.compile(r"^-{2,}\s*|\s*-{2,}$")

# Lines that start a signature and everything below them: RFC 3676 §4.3 "-- ", mobile and
# client footers, disclaimers.
_SENT = (r"sent|envoyé|enviado|enviada|inviato|gesendet|verzonden|verstuurd|skickat|sendt|"
         r"lähetetty|wysłane|wysłano|odesláno|отправлено|надіслано|gönderildi")
_SENT_VIA = (r"from|with|using|via|de|depuis|desde|do|dal|da|von|vanaf|van|met|från|fra|z|с|со|"
             r"з|den|par")
_DEVICE = (r"my|mon|ma|mi|meu|minha|mijn|min|mitt|mein|meinem|mio|mia|mojego|mojej|moego|моего|"
           r"мого|iphone|iphonu|iphone'a|iphona|ipad|android|samsung|galaxy|huawei|xiaomi|honor|"
           r"oppo|vivo|blackberry|outlook|mail|yahoo|gmail|proton|protonmail|aol|windows|zoho|"
           r"dingtalk|lark|feishu|wecom|\S{1,20} (?:mail|app)")
SIGNATURE_STARTS = [re.compile(p, re.I) for p in (
    r"^--\s?$",
    r"^[—–]{1,2}\s?$",
    # 发自我的iPhone, 发自我的华为手机, 来自我的小米手机
    r"^(?:发自|發自|来自|來自|寄自|从|從|发送自|發送自)\s*我的\s*\S.{0,30}$",
    r"^(?:从|從)\s*\S.{0,30}(?:发送|發送)[。.]?$",                        # 从我的 iPhone 发送
    r"^(?:发自|發自|来自|來自|发送自|寄自)\s*(?:网易邮箱大师|网易邮箱|钉钉|飞书|企业微信|腾讯企业邮|"
    r"qq邮箱|手机qq邮箱|wps|outlook|foxmail|coremail|阿里邮箱|\S{1,16}(?:邮箱|郵箱|邮件|郵件|客户端|"
    r"app|手机|手機|设备|iphone|ipad|android)).{0,30}$",
    r"^(?:获取|獲取|下载|取得)\s*(?:适用于\s*\S{1,12}\s*的\s*)?outlook.{0,60}$",
    r"^get outlook for (?:ios|android|mac|windows).{0,60}$",
    # Outlook mobile's footer in other languages: "Obtenir Outlook pour Android",
    # "Outlook für Android herunterladen", "iOS 版 Outlook を入手", "获取 iOS 版 Outlook"…
    r"^(?:obtenir|télécharger|obtener|descargar|obter o|obter|baixar o|scarica|ottieni|"
    r"получить|скачать|holen sie sich|pobierz|hämta|hent|download)\s+outlook\s+\S{1,6}\s+"
    r"(?:ios|android).{0,60}$",
    r"^outlook\s+(?:für|voor|för|for|na|pro)\s+(?:ios|android)\s+(?:herunterladen|downloaden|"
    r"hämta|hent|downloade|pobierz|stáhnout).{0,60}$",
    r"^(?:获取|獲取|取得|下载)?\s*(?:ios|android)\s*版\s*(?:的\s*)?outlook(?:\s*を入手)?.{0,60}$",
    r"^(?:发送自|從|从)\s*windows\s*\d{0,2}\s*版?\s*(?:邮件|郵件|mail).{0,12}$",
    r"^(?:" + _SENT + r")\s+(?:" + _SENT_VIA + r")\s+(?:" + _DEVICE + r")\b[^,;!?]{0,50}$",
    r"^von meinem .{1,40} gesendet[.!]?$",
    r"^lähetetty \S{1,20}(?:sta|stä)\b.{0,30}$|^trimis de pe .{1,40}$",
    r"^.{1,30}-?(?:ról|ről) küldve$|^\S{1,20}(?:'umdan|'imden|'ımdan|'den|'dan) gönderildi$",
    r"^sent from (?:mail|outlook|yahoo|samsung|my|windows)[^,;!?]{0,60}$",
    r"^sent (?:from|with|via) \S{1,30}\s?<https?://[^<>\s]{1,200}>$",  # TypeApp<…>
    r"^\S.{0,24}(?:から送信|에서 보냄|에서 보냈습니다)[。.]?$",
    r"^(?:本邮件|此邮件|本电子邮件|本郵件|此郵件)(?:及其附件)?(?:含有|包含|可能包含|仅供|中的信息).{0,200}$",
    r"^(?:confidentiality (?:notice|note)|disclaimer|免责声明|保密声明)\s*[:：]?.{0,200}$",
    r"^this (?:e-?mail|message)(?: and any attachments?)? (?:is|are|contains?|may contain)"
    r".{0,40}confidential.{0,200}$",
)]


def any_of(patterns: list[re.Pattern[str]]) -> re.Pattern[str]:
    """One alternation of ``patterns``: a single C-level scan per line instead of a loop."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.I)


SEPARATOR = any_of(SEPARATORS)
SEPARATOR_FIRST = frozenset("-=~_*—─－＝【[Bb开以転")   # first characters of the separators above
SIGNATURE_START = any_of(SIGNATURE_STARTS)

# A footer glued to the rule after it, as DingTalk/Alimail write it in plain text:
# "来自钉钉专属商务邮箱------------------------------------------------------------------".
GLUED_RULE_MIN = 20

# A closing that usually opens a short signature block (talon's "Thanks,\nJohn").
_CLOSING_WORDS = (
    "best regards", "kind regards", "warm regards", "regards", "best wishes", "best", "cheers",
    "sincerely", "thanks", "thank you", "many thanks", "thanks again", "br", r"b\.r\.?",
    r"b\.\s?r\.", "yours", "此致", "敬礼", "此致敬礼", "祝好", "顺祝商祺", "顺颂商祺", "顺祝",
    "祝商祺", "谢谢", "多谢", "感谢", "mit freundlichen grüßen", "viele grüße", "cordialement",
    "bien à vous", "saludos", "atentamente", "cordiali saluti", "met vriendelijke groet",
    "med vänliga hälsningar", "med venlig hilsen", "pozdrawiam", "с уважением",
    "よろしくお願いします", "mvh", "hilsen", "med vennlig hilsen", "vänliga hälsningar",
    "hälsningar", "liebe grüße", "grüße", "saluti", "un saluto", "saludos cordiales", "un saludo",
    "atenciosamente", "cumprimentos", "groeten", "met vriendelijke groeten", "z poważaniem", "敬具",
    "よろしくお願いいたします", "감사합니다",
)
CLOSINGS = re.compile(rf"^(?:{'|'.join(_CLOSING_WORDS)})[\s,.!，。！]*$", re.I)

BARE_ADDRESS = re.compile(r"^<?[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}>?$")

# Signature content lines: contacts a person puts under their name.
CONTACT = re.compile(
    r"(?:\b(?:tel|phone|mobile|mob|fax|cell|skype|wechat|email|e-mail|web|www)\b\.?\s*[:：.]?|"
    r"电话|手机|传真|邮箱|地址|微信|https?://|www\.|\S+@\S+\.\w+|\+?\d[\d\s()-]{7,}\d|^[tfm]\.\s)",
    re.I)

# The own text only points into the quote: "见下文", "答复见下文", "see inline", "comments below".
POINTERS = [re.compile(p, re.I) for p in (
    r"(?:我的|我们的)?(?:答复|回复|回覆|回答|意见|批注|说明|反馈|处理|答案)?\s*(?:请|烦请)?"
    r"(?:见|詳見|详见|参见|參見|请见|请看|如|在|写在|附在)\s*(?:下文|下方|下面|下|文中|正文|邮件正文|"
    r"原文|原邮件|原件|以下|内文)(?:中)?(?:的)?(?:红色|蓝色|红字|蓝字|标红|彩色|黄色)?(?:部分|字体|文字|"
    r"内容|所示|标注|批注)?",
    r"(?:please\s+)?(?:see|find)\s+(?:my\s+)?(?:answers?|comments?|replies|responses?|notes?|"
    r"remarks?)?\s*(?:inline|in-line|in line|below|interleaved|in the text)",
    r"(?:my\s+)?(?:answers?|comments?|replies|responses?|notes?|remarks?)\s+(?:are\s+)?"
    r"(?:inline|in-line|in line|below|interleaved|in the text|in (?:red|blue))",
    r"(?:see|answers?|comments?)\s+(?:inline|below)",
    r"(?:siehe|antworten|kommentare)\s+(?:unten|im text|inline)|voir (?:ci-dessous|mes réponses)|"
    r"réponses? (?:ci-dessous|dans le texte)|ver (?:abajo|respuestas)|vedi sotto|risposte sotto|"
    r"zie (?:hieronder|onder)|antwoorden hieronder|se (?:nedan|nedenfor|under)|svar nedan|"
    r"odpowiedzi poniżej|(?:patrz|zobacz) poniżej|см\.? ниже|ответы ниже|"
    r"(?:以下|下記)(?:の通り|に)?(?:回答|返信|コメント)(?:いたします|致します|します)?|"
    r"インラインで(?:回答|返信)(?:いたします|致します|します)?|"
    r"아래(?:에)? (?:참조|답변)",
)]
POINTER = any_of(POINTERS)
GREETING = re.compile(
    r"^\S.{0,24}[,，:：]$|^(?:hi|hello|dear|hallo|bonjour|您好|你好|各位)\b.{0,30}$", re.I)

# An answer marked inside the original by Outlook ("Mark my comments with: [Liu Yang]") or by
# hand ("【刘洋】", "答：", "回复：", "A:"): counted only under a pointer such as "见下文".
ANSWER_MARK = re.compile(r"^(?:\[[^\[\]]{1,24}\]|【[^【】]{1,24}】|"
                         r"(?:答|回复|回覆|回答|答复|A)\s*[:：])\s*(.{1,400})$")
