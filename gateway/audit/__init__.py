"""The audit trail: the hash chain, its state, replay, verification, anchors."""
