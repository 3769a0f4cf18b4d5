"""Core: the types every layer speaks (messages, requests, responses, usage,
stream events), errors, the call context, the clock, redaction, fast JSON,
the dispatch mark and the sink-failure counter.

The lowest layer: it imports nothing else of steadyllm.
"""
