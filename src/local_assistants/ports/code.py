"""The code runner port: what a run does with code the model wrote (the code
interpreter, ``tools.code_interpreter.CodeInterpreter``, over sandboxed kernels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass
class CodeOutcome:
    logs: str
    image_file_ids: list[str]
    reset: bool


@dataclass
class ProducedFile:
    """A file the code wrote in ``/mnt/data``, kept as an ``assistants_output`` file."""

    name: str
    file_id: str


@runtime_checkable
class CodeRunner(Protocol):
    def unavailable(self) -> str | None:
        """None when code can run; otherwise why not."""
        ...

    def warm_up(self) -> None:
        """A run may soon run code: get a kernel ready meanwhile (in the background)."""
        ...

    def run(self, run: dict, code: str) -> CodeOutcome:
        """Run ``code`` in the run's thread's kernel."""
        ...

    def take_outputs(self, run_id: str) -> tuple[list[str], list[ProducedFile]]:
        """The image file ids and files this run's code produced so far (once: for its answer)."""
        ...
