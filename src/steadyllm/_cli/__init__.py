"""The ``steadyllm`` command line: the parser and commands (``main``), flow
runs (``run``), the costs and stats reports (``reports``) and the demo.
"""
