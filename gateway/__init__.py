"""commgate, the communication gateway: mail in, communication records, receipts and reports out.

The packages follow the flow of a message (README, "Code layout"): ``inbound`` stores it,
``pipeline`` runs the ``stages`` over it — ``parse``, ``thread``, ``classify``, ``records``,
``receipts``, ``notify``, ``reports``, ``connectors`` — on top of ``store`` and ``config``;
``escalation``, ``archive`` and ``audit`` work on what the stages wrote; ``jobs`` and ``runtime``
run it all; ``cli`` and ``demo`` are the front doors.
"""
