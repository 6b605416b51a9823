"""Reports: periodic (weekly, monthly, phase) and special (risk, incident) reports from the
records, and the watch on communications the matrix expects from people. See docs/notify.md."""
