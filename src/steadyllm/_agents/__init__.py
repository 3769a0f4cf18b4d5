"""Agents: tools, the tool loop (both forms), structured output checks. The
loop drives a turn through a narrow caller interface, not the client.
"""
