"""Flows: the LLM-call step (``run_llm_call``), flow files and recorders."""
