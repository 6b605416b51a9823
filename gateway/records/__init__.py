"""Communication records: one per thread, with classification, summary, conclusion, receipts."""
