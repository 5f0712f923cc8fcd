"""Adapters: llama.cpp model, SQLite store and other outside components behind ports.py."""
