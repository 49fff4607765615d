"""Live: the events of the audit log pushed to subscribers as they commit (SPEC §12)."""
