"""Cassettes: real HTTP exchanges recorded at the transport and replayed offline
(``format``: the file; ``match``: which recording answers a request;
``recorder``: the transport hook). The public face is ``steadyllm.testing``."""
