"""Tamper-evident audit trail (审计): append-only, SHA-256 hash-chained ``audit_events``."""
