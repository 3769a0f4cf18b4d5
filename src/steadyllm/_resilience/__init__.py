"""Resilience: the retry policy, the attempt loop and fallbacks, circuit
breakers, rate limiters, and the guard that admits each attempt and settles
it. In-process backends only: the client injects the Redis ones. Imports the
layers below it (core to providers).
"""
