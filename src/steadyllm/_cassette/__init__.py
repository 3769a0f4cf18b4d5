"""Cassettes: real HTTP exchanges recorded at the transport and replayed offline
(``format``: the file; ``match``: which recording answers a request;
``recorder``: the transport hook). The public face is ``steadyllm.testing``.

Nothing is imported here: the pytest plugin reads ``MODES`` at start-up."""

#: Record modes, as vcrpy's (see ``recorder``).
MODES = ("none", "once", "new_episodes", "all")
