"""The response cache: what is stored under which key (``entry``), the
in-process and SQLite backends (``backends``) and ``ResponseCache`` (deadline
bounds, single flight). The Redis backend is ``_shared.cache``.
"""
