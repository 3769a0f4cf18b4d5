"""The client: composition of the layers (``compose``), planning a call
(``plan``), the async ``Client``, streams and their assembly, and the
synchronous twin (``sync``).
"""
