"""Shared state in Redis, one module per feature: the link (``state``), the
breaker, the limiter, budgets and cost counters, the cache backend. Each is
the Redis twin of an in-process object below it; only the client chooses
them (``_client.compose``).
"""
