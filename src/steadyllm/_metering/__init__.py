"""Metering: token estimates, the price book, costs and budgets, the meter
that books every attempt, the JSONL request log and its writer, statistics,
log views for the CLI, and OpenTelemetry. Imports ``_core`` and ``_config``.
"""
