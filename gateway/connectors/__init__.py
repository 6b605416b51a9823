"""The business-process system (policy 4.4: important client records entered into DingTalk).

``base`` — the connector interface, rules and the record payload; ``dingtalk`` — the custom
robot webhook; ``webhook`` — a generic signed JSON webhook; ``outbox`` — one delivery row per
(record, connector), retried with back-off; ``command`` — ``commgate connectors list|send``.
"""

from gateway.connectors.base import Connector, matching_sinks, record_payload
from gateway.connectors.outbox import DispatchStats, dispatch_due, queue_for_record

__all__ = ["Connector", "DispatchStats", "dispatch_due", "matching_sinks", "queue_for_record",
           "record_payload"]
