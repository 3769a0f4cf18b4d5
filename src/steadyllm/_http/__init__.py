"""The HTTP transport, the only network code: URLs and framing, connections,
the keep-alive pool, TLS; and reading what response headers say (retry
hints, rate limits). Imports ``_core``, ``_config`` and ``_metering``.
"""
