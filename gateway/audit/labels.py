"""Chinese and English labels for the domain words (DESIGN.md §3), shared by the archive's
pages and the business-process messages, so one record reads the same in every channel
(policy 1.3: accurate and consistent across channels)."""

from __future__ import annotations

CATEGORY = {
    "directive": ("指令", "Directive"),
    "decision": ("决策", "Decision"),
    "change_notice": ("变更通知", "Change notice"),
    "risk": ("风险", "Risk"),
    "incident": ("故障/事件", "Incident"),
    "meeting_minutes": ("会议纪要", "Meeting minutes"),
    "report": ("报告", "Report"),
    "work_contact": ("工作联系单", "Work contact form"),
    "inquiry": ("咨询", "Inquiry"),
    "general": ("一般沟通", "General"),
}
GROUP = {
    "customer": ("客户", "Customer"),
    "leadership": ("公司领导", "Leadership"),
    "internal": ("内部", "Internal"),
    "procurement": ("采购", "Procurement"),
    "quality": ("质量", "Quality"),
    "hr": ("人力资源", "HR"),
    "other": ("其他", "Other"),
}
FORMALITY = {
    "formal_written": ("正式书面", "Formal written"),
    "written": ("书面", "Written"),
    "formal_oral": ("正式口头", "Formal oral"),
    "informal_oral": ("非正式口头", "Informal oral"),
}
RECEIPT = {
    "pending": ("待确认", "Pending"),
    "read": ("已读", "Read"),
    "confirmed": ("已确认", "Confirmed"),
    "questioned": ("有疑问", "Questioned"),
    "declined": ("已拒绝", "Declined"),
    "overdue": ("已逾期", "Overdue"),
    "withdrawn": ("已撤回", "Withdrawn"),
}


URGENCY = {
    "urgent": ("紧急", "Urgent"),
    "normal": ("一般", "Normal"),
}
# What a mail the gateway sent is (outbox ``kind``), as the archive index names it.
MAIL_KIND = {
    "change": ("变更通知", "Change notice"),
    "incident": ("故障通报", "Incident notice"),
    "directive": ("工作指令", "Directive"),
    "minutes": ("会议纪要", "Meeting minutes"),
    "work_contact": ("工作联系单", "Work contact form"),
    "record_cc": ("沟通记录抄送", "Record copy"),
    "reminder": ("待确认提醒", "Reminder"),
    "digest": ("待确认汇总提醒", "Reminder digest"),
    "escalation": ("升级通知", "Escalation"),
    "receipt_answer": ("回执通知", "Receipt answer"),
    "receipt_review": ("回执待核", "Receipt to review"),
    "periodic": ("定期报告", "Periodic report"),
    "client_report": ("客户服务报告", "Client service report"),
    "special": ("专项报告", "Special report"),
    "report_draft": ("报告待审批", "Report for approval"),
    "expected": ("应发沟通提醒", "Expected communication"),
    "bounce": ("退信通知", "Bounce notice"),
    "handover": ("归档移交", "Archive handover"),
}
MAIL_STATE = {
    "queued": ("待发送", "Queued"),
    "sending": ("发送中", "Sending"),
    "retry": ("待重试", "Retrying"),
    "sent": ("已发送", "Sent"),
    "failed": ("发送失败", "Failed"),
}
# The order in which a bare key is looked up by the templates' label filters.
ALL = (CATEGORY, GROUP, FORMALITY, RECEIPT, URGENCY, MAIL_KIND, MAIL_STATE)


def any_label(key: str | None, language: str = "zh-CN") -> str:
    """The label of a domain word from whichever table knows it; the key itself otherwise."""
    for table in ALL:
        if key in table:
            return label(table, key, language)
    return "" if key is None else key


def label(table: dict[str, tuple[str, str]], key: str | None, language: str = "zh-CN") -> str:
    """The label of ``key`` in ``language``; the key itself when unknown."""
    if key is None:
        return ""
    pair = table.get(key)
    if pair is None:
        return key
    return pair[0] if language.startswith("zh") else pair[1]
