"""The tutor benchmark (``local-assistants bench tutor``): local models on tutor tasks
(GSM8K, linear equations, multi-digit arithmetic) through the real runtime, plain and
with the code interpreter, against raw llama-cpp-python on the same messages."""

from .harness import Config, run

__all__ = ["Config", "run"]
