"""Operability: Prometheus metrics, JSON logs, liveness/readiness (issue 15)."""
