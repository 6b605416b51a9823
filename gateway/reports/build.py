"""Reports: collect the data, draw the chart, render (zh-CN / en), and send to the matrix.

    due_reports(project, last_sent, now)  ─▶ which periodic reports are due (pure)
    build(session, …)                      ─▶ ReportData + template context
    send_report(app, session, …)           ─▶ one outbox mail per language, a ReportRun row

Weekly and monthly reports go to the recipients of the matrix rows ``weekly_report`` /
``monthly_report`` (plus members holding the row's ``recipient_roles``). Special reports
(policy 4.2.2 and 4.3): a recorded risk → leadership; an urgent incident → leadership and the
project manager. Sending is idempotent per (kind, period) through the outbox key and the
``report_runs`` unique key. A matrix row with ``approval = true`` is drafted to its owner first
(gateway/reports/approval.py), which calls :func:`queue_report` once the owner approves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.config.people import display_name
from gateway.config.settings import MatrixEntry, ProjectConfig
from gateway.notify.render import Rendered, render
from gateway.notify.system import send_system_notice
from gateway.reports.data import ReportData, collect
from gateway.reports.periods import Period, latest_due, parse_frequency
from gateway.store.notify_models import ReportRun

if TYPE_CHECKING:
    from gateway.app import App

GENERATED = {"weekly_report": "weekly", "monthly_report": "monthly"}


@dataclass(frozen=True)
class DueReport:
    kind: str  # weekly | monthly
    period: Period
    due: datetime
    row: MatrixEntry


def due_reports(project: ProjectConfig, last_sent: Mapping[str, str],
                now: datetime) -> list[DueReport]:
    """Periodic reports whose due time has passed and that were not sent for that period.

    ``last_sent`` maps ``weekly``/``monthly`` to the last period key sent (``report_runs``).
    """
    out: list[DueReport] = []
    for row in project.matrix:
        kind = GENERATED.get(row.kind)
        schedule = parse_frequency(row.frequency)
        if kind is None or schedule is None:
            continue
        period, due = latest_due(schedule, now, project.zone)
        if last_sent.get(kind, "") < period.key:  # keys sort in time order
            out.append(DueReport(kind, period, due, row))
    return out


def last_sent(session: Session, project_id: int) -> dict[str, str]:
    """The last period key of each kind that was sent or drafted (a draft awaits its owner:
    scheduling it again would only hit the unique key on every tick)."""
    out: dict[str, str] = {}
    for kind, period in session.execute(select(ReportRun.kind, ReportRun.period).where(
            ReportRun.project_id == project_id, ReportRun.state.in_(("sent", "draft")))):
        out[kind] = max(out.get(kind, ""), period)
    return out


def bar_chart(points: list[tuple[str, int]], *, title: str, width: int = 720,
              height: int = 200) -> str:
    """An inline SVG bar chart (mail clients show inline SVG poorly; the text table repeats it)."""
    top = max((n for _d, n in points), default=0) or 1
    left, bottom, usable = 36, height - 28, height - 48
    step = (width - left - 8) / max(len(points), 1)
    bars = []
    for i, (label, n) in enumerate(points):
        h = usable * n / top
        x = left + i * step
        bars.append(f'<rect x="{x + 1:.1f}" y="{bottom - h:.1f}" width="{max(step - 2, 1):.1f}" '
                    f'height="{h:.1f}" fill="#1f5fa8"><title>{escape(label)}: {n}</title></rect>')
        if len(points) <= 16 or i % max(len(points) // 8, 1) == 0:
            bars.append(f'<text x="{x + step / 2:.1f}" y="{height - 12}" font-size="10" '
                        f'text-anchor="middle">{escape(label[5:])}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="{escape(title)}">'
            f'<text x="{left}" y="14" font-size="12">{escape(title)}</text>'
            f'<line x1="{left}" y1="{bottom}" x2="{width - 8}" y2="{bottom}" stroke="#7b8794"/>'
            f'<text x="4" y="{bottom - usable + 4:.0f}" font-size="10">{top}</text>'
            + "".join(bars) + "</svg>")


def context(data: ReportData, *, kind: str, project: ProjectConfig, language: str,
            extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    title = "每日确认数" if language == "zh-CN" else "Confirmations per day"
    groups = sorted({g for g, _c in data.matrix})
    categories = sorted({c for _g, c in data.matrix})
    return {"kind": kind, "data": data, "period": data.period,
            "chart": bar_chart(data.confirmations, title=title),
            "groups": groups, "categories": categories,
            # people by the names the project file gives them (issue 21)
            "name_of": lambda address: display_name(project, address),
            "names_of": lambda addresses: [display_name(project, a) for a in addresses],
            **(extra or {})}


def is_client(project: ProjectConfig, address: str) -> bool:
    """Whether ``address`` is the client's: a customer stakeholder or a customer domain."""
    if any(s.email == address and s.group == "customer" for s in project.stakeholders):
        return True
    domain = address.rpartition("@")[2]
    return any(d.group == "customer" and (domain == d.domain or domain.endswith("." + d.domain))
               for d in project.stakeholder_domains)


def for_client(project: ProjectConfig, to: list[str]) -> bool:
    """A report addressed to the client gets the client template (issue 21)."""
    return any(is_client(project, a) for a in to)


def template_for(project: ProjectConfig, kind: str, to: list[str]) -> str:
    """``client`` (service, incidents, changes, SLA — nothing internal) for a periodic report
    addressed to the client; ``periodic`` (the internal report) or ``special`` otherwise."""
    if kind not in ("weekly", "monthly", "phase"):
        return "special"
    return "client" if for_client(project, to) else "periodic"


def needs_approval(project: ProjectConfig, row: MatrixEntry | None, to: list[str]) -> bool:
    """A matrix row's ``approval``; unset, a report to the client waits for its owner."""
    if row is not None and row.approval is not None:
        return row.approval
    return for_client(project, to)


def client_facts(data: ReportData, project: ProjectConfig) -> dict[str, Any]:
    """What the client template adds: the communication with the client and the SLA."""
    by_category = sorted(((c, n) for (g, c), n in data.matrix.items() if g == "customer"),
                         key=lambda cn: (-cn[1], cn[0]))
    target = project.classification.incident_reply_minutes
    timed = [i["response_minutes"] for i in data.incidents if i["response_minutes"] is not None]
    within = sum(1 for m in timed if m <= target)
    return {"client": {"total": data.by_group.get("customer", 0), "by_category": by_category},
            "sla": {"target": target, "measured": len(timed), "within": within,
                    "rate": round(100 * within / len(timed)) if timed else None}}


def build(session: Session, *, project: ProjectConfig, project_id: int, kind: str,
          period: Period, now: datetime, language: str | None = None,
          extra: Mapping[str, Any] | None = None,
          to: list[str] | None = None) -> tuple[ReportData, Rendered]:
    """Collect and render; ``to`` (default: the matrix row's readers) picks the template."""
    data = collect(session, project_id=project_id, period=period, now=now, zone=project.zone)
    lang = language or project.language
    if to is None:
        row = next((r for r in project.matrix if r.kind == f"{kind}_report"), None)
        to = recipients(project, row)
    name = template_for(project, kind, to)
    rendered = render("reports", name, language=lang, project=project,
                      context={"now": now, "record_id": None,
                               **context(data, kind=kind, project=project, language=lang,
                                         extra={**client_facts(data, project),
                                                **(extra or {})})})
    return data, rendered


def recipients(project: ProjectConfig, row: MatrixEntry | None,
               groups: tuple[str, ...] = ()) -> list[str]:
    out = list(row.recipients) if row else []
    if row:
        out += [m.email for m in project.members if m.role in row.recipient_roles]
    out += [s.email for s in project.stakeholders if s.group in groups]
    return list(dict.fromkeys(out))


def send_report(app: App, session: Session, *, project: ProjectConfig, kind: str,
                period: Period, to: list[str], now: datetime,
                extra: Mapping[str, Any] | None = None, record_id: int | None = None,
                run_key: str | None = None) -> bool:
    """Queue the report for ``to`` (one mail per language); False if already sent."""
    project_id = app.project_ids[project.code]
    key = run_key or period.key
    run = ReportRun(project_id=project_id, kind=kind, period=key, state="sent",
                    created_at=now, sent_at=now)
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        return False
    queue_report(app, session, run, project=project, period=period, to=to, now=now,
                 extra=extra, record_id=record_id)
    return True


def queue_report(app: App, session: Session, run: ReportRun, *, project: ProjectConfig,
                 period: Period, to: list[str], now: datetime,
                 extra: Mapping[str, Any] | None = None, record_id: int | None = None) -> None:
    """Render ``run``'s report and queue it for ``to``; the outbox key makes it once only."""
    project_id = app.project_ids[project.code]
    kind, key = run.kind, run.period
    data = collect(session, project_id=project_id, period=period, now=now, zone=project.zone)
    name = template_for(project, kind, to)
    fields = {"record_id": record_id, **{k: v for k, v in context(
        data, kind=kind, project=project, language=project.language,
        extra={**client_facts(data, project), **(extra or {})}).items()}}
    mail = send_system_notice(app, session, project=project, kind=name, area="reports", to=to,
                              fields=fields, idempotency_key=f"report:{project.code}:{kind}:{key}",
                              record_id=record_id, now=now)
    run.outbox_id = mail.id if mail else None
    run.facts = {**(run.facts or {}), "total": data.total, "directives": data.directives,
                 "risks": len(data.risks), "incidents": len(data.incidents)}
