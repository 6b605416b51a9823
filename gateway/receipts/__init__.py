"""Receipts: who owes a confirmation, the states, answers, events, queries."""
