"""Own text of replies from every common mail client, in each client's real format.

``tests/fixtures/replies/`` holds one ``.eml`` per client style (plain and HTML, zh/en/de/fr/it/
es/pt/pl/ru/ja/ko/sv/da/fi/nl/cs/uk/id/vi), and ``expected.json`` the own text a person reads in
each. The scoreboard is exact: the own text must equal the expected one line for line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.parse import evaluation, parse_message, split_reply

REPLIES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
EXPECTED = json.loads((REPLIES / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_clients_reply_yields_exactly_its_own_text(name: str) -> None:
    parsed = parse_message((REPLIES / name).read_bytes())
    want = EXPECTED[name]["own_text"]
    assert evaluation.lines_of(parsed.own_text) == evaluation.lines_of(want), \
        f"{EXPECTED[name]['client']}: {parsed.own_text!r}"


def test_the_scoreboard_is_well_above_the_target() -> None:
    score = evaluation.Score()
    evaluation.score_reply_fixtures(REPLIES, score)
    print("\n" + "\n".join(score.lines()))
    assert score.total >= 60
    assert score.passed / score.total >= 0.95


def test_header_block_in_a_language_the_parser_has_no_labels_for() -> None:
    # Given labels it does not know (Hungarian-like, invented), an address and a date
    body = ("Rendben.\n\nKüldő: Li Na <lina@x.cn>\nIdőpont: 2026. november 24. 10:00\n"
            "Címzettek: Liu Yang\nTárgy: ellenőrzés\n\neredeti szöveg\n")
    # Then the shape alone says it is a quote header
    assert split_reply(body).own_text == "Rendben."


def test_label_value_lines_in_the_own_text_are_not_a_quote_header() -> None:
    body = "收到。安排如下：\n时间：今晚21:00\n地点：3号机房\n负责人：刘洋\n"
    assert split_reply(body).own_text == body.strip()
    qa = "Q: 能否周五完成？\nA: 可以，周五下午。"
    assert split_reply(qa).own_text == qa


def test_a_name_ending_in_wrote_without_quoting_below_is_own_text() -> None:
    body = "We agreed on the plan, as Li Na wrote:\nfinish before 22:00 tonight."
    assert split_reply(body).own_text == body


def test_inline_answers_replace_a_pointer_and_keep_a_real_top_text() -> None:
    quoted = ("On Tue, Nov 24, 2026 at 10:00 AM Li Na <lina@x.cn> wrote:\n"
              "> 能否周五完成？\n可以。\n> 需要停机吗？\n不需要。\n")
    assert split_reply("见下文\n\n" + quoted).own_text == "可以。\n不需要。"
    assert split_reply("Hi Li,\n\nSee my comments inline.\n\n" + quoted).own_text == \
        "可以。\n不需要。"
    # "好的" is an answer of its own, not only a pointer: it stays
    kept = split_reply("好的，答复见下文\n\n" + quoted).own_text
    assert kept == "好的，答复见下文\n\n可以。\n不需要。"


def test_a_pointer_with_no_inline_answers_stays_the_own_text() -> None:
    body = ("答复见下文\n\n发件人: 李娜 <lina@x.cn>\n发送时间: 2026年11月24日 10:00\n"
            "主题: x\n\n原文\n")
    assert split_reply(body).own_text == "答复见下文"


def test_text_below_a_top_attribution_is_the_reply_but_quoted_text_below_it_is_not() -> None:
    top = "在 2026-11-24 10:00:00，\"李娜\" <lina@x.cn> 写道：\n\n收到。\n"
    parts = split_reply(top)
    assert parts.own_text == "收到。"
    assert parts.quoted_text.startswith("在 2026-11-24")
    quoted = "在 2026-11-24 10:00:00，\"李娜\" <lina@x.cn> 写道：\n> 请确认\n\n收到。\n"
    assert split_reply(quoted).own_text == "收到。"


@pytest.mark.parametrize("footer", [
    "获取 Outlook for iOS", "Get Outlook for Android<https://aka.ms/AAb9ysg>",
    "来自钉钉专属商务邮箱",
    "发自我的iPhone", "发自我的华为手机", "发自我的小米手机", "Sent from my Galaxy",
    "Envoyé de mon iPhone", "Von meinem iPhone gesendet", "Sendt fra min iPhone",
    "Skickat från min iPhone", "Enviado desde mi iPhone", "iPhoneから送信", "从我的 iPhone 发送",
])
def test_client_footers_leave_the_own_text(footer: str) -> None:
    parts = split_reply(f"收到，今晚完成。\n\n{footer}\n")
    assert parts.own_text == "收到，今晚完成。"
    assert parts.signature == footer


def test_sent_from_inside_a_sentence_is_not_a_footer() -> None:
    body = "The config was sent from my laptop, please check it."
    assert split_reply(body).own_text == body


HOSTILE: list[Callable[[int], str]] = [
    lambda n: "a: b\n" * (4 * n),
    lambda n: ("x" * 400 + ": " + "2026 " * 20 + "a@b.cn\n") * n,
    lambda n: "On " + "x " * (40 * n) + "\n",
    lambda n: "-" * (200 * n) + "x\n",
    lambda n: ("在 2026年11月24日，" + "张" * 300 + "\n") * (n // 2),
    lambda n: "> q\n答\n" * (4 * n),
]


def _fastest_splits(*bodies: str) -> list[float]:
    """The best of five timings of each body, measured in turns: a burst of load on a busy
    machine slows every size alike instead of only the one that ran during it."""
    best = [float("inf")] * len(bodies)
    for _ in range(5):
        for i, body in enumerate(bodies):
            start = time.perf_counter()
            split_reply(body)
            best[i] = min(best[i], time.perf_counter() - start)
    return best


@pytest.mark.parametrize("hostile", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_hostile_bodies_are_split_in_linear_time(hostile: Callable[[int], str]) -> None:
    # Four times the input takes about four times as long (a quadratic split would take
    # sixteen): compared in the same run, so a slow or busy machine does not matter.
    small, large = _fastest_splits(hostile(1_250), hostile(5_000))
    assert large < 9 * max(small, 0.005), (small, large)


def test_outlook_marked_comments_inside_an_unquoted_original_answer_a_pointer() -> None:
    # Outlook's "mark my comments with [刘洋]": the original is not ">"-quoted
    body = ("答复见下文。\n\n发件人: 李娜 <lina@x.cn>\n发送时间: 2026年11月24日 10:00\n"
            "收件人: 刘洋\n主题: 巡检\n\n1. 今晚能完成吗？\n[刘洋] 可以。\n2. 需要停机吗？\n"
            "[刘洋] 不需要。\n")
    assert split_reply(body).own_text == "可以。\n不需要。"
    html = ('<div>请见下方红字</div><div id="divRplyFwdMsg"><b>发件人:</b> 李娜<br>'
            '<b>发送时间:</b> 2026年11月24日 10:00</div><div>1. 今晚能完成吗？</div>'
            '<div style="color:red">【刘洋】可以</div>')
    assert split_reply("", html).own_text == "可以"
    # Without a pointer the same marks are old history, not this reply
    assert split_reply(body.replace("答复见下文。", "收到。")).own_text == "收到。"


@pytest.mark.parametrize("separator", [
    "-----Original Message-----", "-----邮件原件-----", "-----原始邮件-----",
    "------------------ 原始邮件 ------------------", "---- 回复的原邮件 ----",
    "---- Replied Message ----", "-------- 原始信息 --------", "----- 原文 -----",
    "-----Ursprüngliche Nachricht-----", "-----Message d'origine-----",
    "-----Mensaje original-----", "-----Исходное сообщение-----", "----- 원본 메일 -----",
    "---------- Forwarded message ---------", "Begin forwarded message:", "开始转发的邮件：",
])
def test_a_separator_line_alone_starts_the_history(separator: str) -> None:
    parts = split_reply(f"收到。\n\n{separator}\n旧内容 old text\n")
    assert parts.own_text == "收到。"
    assert parts.quoted_text.startswith(separator.split()[0][:3])


@pytest.mark.parametrize("body", [
    "收到，但有两点：\nFrom: 供应商的回复还没到\nTo: 需要再等两天\n所以无法按期完成。",
    "Noted.\nOn Friday, 27 Nov 2026 at 10:00 I will be on site, as Zhang Wei wrote:\n"
    "we cannot finish tonight.",
    "OK\n\nFrom: me\nSent: now\nbut I can't make it tonight.",
    "收到。\n谢谢\n但今晚去不了",
    "Noted.\n\nThanks,\nbut I cannot come tonight",
    "好的。\n日期: 2026-11-27 10:00\n负责人: 刘洋 <liuyang@x.cn>\n备注: 无法今晚完成，只能顺延。",
    "收到。\n\n不过有个问题：\n时间：周五 10:00\n地点：会议室A\n参会人：zhangwei@x.cn\n"
    "能否改到周四？",
])
def test_a_later_reservation_in_the_own_text_is_never_cut_away(body: str) -> None:
    # Cutting here would leave only "收到"/"OK": a decline or question read as confirmed
    assert split_reply(body).own_text == body


def test_a_closing_and_a_real_signature_still_leave_the_own_text() -> None:
    assert split_reply("收到。\n\n谢谢\n刘洋\n运维部\n电话：010-88886666").own_text == "收到。"
    assert split_reply("Noted.\n\nThanks,\nLiu Yang\nHead of Operations").own_text == "Noted."
