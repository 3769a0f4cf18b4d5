"""Configuration: the settings table (one row per setting), ``Settings`` and
its sources (code, environment, ``.env``, ``steadyllm.toml``), the ``prices``
table and model strings. Imports only ``_core``.
"""
