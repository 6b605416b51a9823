"""Escalation: business time, the reminder ladder's plan and its mails."""
