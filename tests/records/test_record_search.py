"""Search that works for Chinese: trigram full-text for words of three characters or more, LIKE
for shorter ones (most two-character Chinese words), on SQLite (FTS5) and PostgreSQL (pg_trgm)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from gateway.app import App
from gateway.errors import RecordsError
from gateway.inbound.intake import accept
from gateway.pipeline import process
from gateway.records.search import make_snippet, search_method, search_records
from gateway.store.db import unit_of_work
from tests.records.conftest import Deliver, app_with_schema, with_attachment
from tests.support.mail import make_mail


def search(app: App, query: str) -> list[Any]:
    with unit_of_work(app.sessions) as session:
        return search_records(session, project_id=app.project_ids["demo"], query=query)


@pytest.fixture
def corpus(records_app: App, deliver: Deliver) -> dict[str, int]:
    """Four threads; returns record id by a short name."""
    def record_of(message_id: str) -> int:
        with unit_of_work(records_app.sessions) as session:
            return int(session.execute(text("SELECT record_id FROM messages WHERE message_id = "
                                            ":m"), {"m": message_id.strip("<>")}).scalar_one())

    switch = deliver(subject="【指令】今晚完成核心交换机巡检",
                     body="请于今晚22:00前完成核心交换机巡检，完成后回复确认。")
    deliver(subject="回复：【指令】今晚完成核心交换机巡检", in_reply_to=switch,
            sender="liuyang@xdyj.example.com", to="lina@xdyj.example.com",
            body="收到，巡检中发现2号交换机风扇告警。")
    report = deliver(with_attachment(
        make_mail(subject="十一月服务月报", body="本月服务情况见附件。"),
        "2026年11月机房巡检记录.xlsx"))
    firewall = deliver(subject="Firewall policy review",
                       body="The firewall rules for the DMZ were reviewed; two rules removed.")
    other = deliver(subject="年会安排", body="年会定在12月20日，地点另行通知。100% 参加。")
    return {"switch": record_of(switch), "report": record_of(report),
            "firewall": record_of(firewall), "other": record_of(other)}


def test_a_three_character_chinese_word_finds_its_record_by_trigram(
        records_app: App, corpus: dict[str, int]) -> None:
    hits = search(records_app, "交换机")
    assert [h.record_id for h in hits] == [corpus["switch"]]
    assert hits[0].matched == ("subject", "body")
    assert "«交换机»" in hits[0].snippet
    with unit_of_work(records_app.sessions) as session:
        assert search_method(session, ["交换机"]) in ("fts5", "trigram")


def test_a_two_character_chinese_word_falls_back_to_like_and_is_ranked(
        records_app: App, corpus: dict[str, int]) -> None:
    hits = search(records_app, "巡检")
    # in the subject and three times in the body beats once in an attachment name
    assert [h.record_id for h in hits] == [corpus["switch"], corpus["report"]]
    assert hits[0].rank == 1 and hits[0].score > hits[1].score
    assert hits[1].matched == ("attachments",)
    assert hits[1].snippet == "2026年11月机房«巡检»记录.xlsx"
    with unit_of_work(records_app.sessions) as session:
        assert search_method(session, ["巡检"]) in ("like", "ilike")


def test_an_english_word_is_found_whatever_its_case(
        records_app: App, corpus: dict[str, int]) -> None:
    hits = search(records_app, "FIREWALL")
    assert [h.record_id for h in hits] == [corpus["firewall"]]
    assert "«firewall»" in hits[0].snippet.lower()


def test_an_attachment_name_finds_the_record_that_carries_it(
        records_app: App, corpus: dict[str, int]) -> None:
    assert [h.record_id for h in search(records_app, "巡检记录.xlsx")] == [corpus["report"]]
    assert [h.record_id for h in search(records_app, "xlsx")] == [corpus["report"]]


def test_every_term_must_match_and_wildcards_are_plain_characters(
        records_app: App, corpus: dict[str, int]) -> None:
    assert [h.record_id for h in search(records_app, "巡检 风扇告警")] == [corpus["switch"]]
    assert search(records_app, "巡检 firewall") == []
    assert [h.record_id for h in search(records_app, "100%")] == [corpus["other"]]
    assert search(records_app, "_") == [] and search(records_app, "%%") == []
    assert search(records_app, '"交换机') == []  # a quote is a character, not FTS5 syntax
    assert search(records_app, "   ") == []


def test_search_from_the_command_line_prints_ranked_hits_with_snippets(
        records_app: App, corpus: dict[str, int], cli: Callable[..., Any]) -> None:
    found = json.loads(cli("records", "search", "交换机", "--project", "demo", "--json").stdout)
    assert [h["record_id"] for h in found] == [corpus["switch"]]
    assert set(found[0]) >= {"record_id", "rank", "score", "subject", "snippet", "matched"}
    listing = cli("records", "search", "巡检", "--project", "demo").stdout
    assert listing.index(f"#{corpus['switch']}") < listing.index(f"#{corpus['report']}")
    assert "no records" in cli("records", "search", "不存在的词", "--project", "demo").stdout


def test_the_index_can_be_rebuilt(records_app: App, corpus: dict[str, int],
                                  cli: Callable[..., Any]) -> None:
    with unit_of_work(records_app.sessions) as session:
        session.execute(text("DELETE FROM record_search"))
    assert search(records_app, "交换机") == []
    assert "reindexed 4 record(s)" in cli("records", "reindex", "--project", "demo").stdout
    assert [h.record_id for h in search(records_app, "交换机")] == [corpus["switch"]]


def test_without_the_search_tables_records_are_still_made_and_search_says_why(
        make_settings: Callable[..., Any], tmp_path: Any) -> None:
    # Given a database the search migration has not reached yet
    app = app_with_schema(make_settings(database_url=f"sqlite:///{tmp_path / 'bare.db'}"),
                          without=("record_search_fts", "record_search", "record_attachments"))
    try:
        # When mail arrives, it still becomes a record
        accepted = accept(app, project="demo", raw=bytes(with_attachment(
            make_mail(subject="巡检"), "a.txt")), channel="smtp", will_enqueue=False)
        assert process(app, accepted.message_pk) == "processed"
        with unit_of_work(app.sessions) as session:
            assert session.execute(text("SELECT count(*) FROM records")).scalar_one() == 1
        # and search names the fix
        with pytest.raises(RecordsError, match="search index is not installed"):
            search(app, "巡检")
    finally:
        app.close()


def test_snippets_cut_around_the_first_hit() -> None:
    body = "前言" * 40 + "核心交换机巡检" + "结尾" * 40
    snippet = make_snippet({"subject": "s", "attachments": "", "body": body}, ["交换机"], width=6)
    assert snippet == "…前言前言核心«交换机»巡检结尾结尾…"
    assert make_snippet({"subject": "Switch  upgrade", "attachments": "", "body": ""},
                        ["SWITCH"]) == "«Switch» upgrade"
