"""Benchmarks: figures printed with ratios against a baseline run in the same process.

``python -m local_assistants.bench`` (``make bench``) runs them all; tests never time anything.
"""
