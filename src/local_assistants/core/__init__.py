"""Pure core: object shapes, the run state machine, events and the prompt window.

Nothing in this package imports adapters, the server, SQLite or llama.cpp.
"""
