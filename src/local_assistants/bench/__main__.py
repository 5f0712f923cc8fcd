"""``python -m local_assistants.bench``: every benchmark, printed as figures and ratios."""

from __future__ import annotations

import argparse
import platform
import sys
import time

from ..config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_assistants.bench")
    parser.add_argument("--only", choices=["runs", "window", "functions", "code", "retrieval", "concurrency",
                                            "responses", "embeddings", "chat"],
                        help="run one group only")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    print(f"# local-assistants benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{platform.machine()}, python {platform.python_version()}")
    if args.only in (None, "window"):
        from .window_bench import main as window

        for block in window(settings.models_dir):
            print(block, flush=True)
    if args.only in (None, "functions"):
        from .functions_bench import main as functions

        for block in functions(settings.models_dir):
            print(block, flush=True)
    if args.only in (None, "code"):
        from .code_bench import main as code

        for block in code(settings.kernel_python, settings.sandbox_dir):
            print(block, flush=True)
    if args.only in (None, "retrieval"):
        from .retrieval_bench import main as retrieval

        for block in retrieval():
            print(block, flush=True)
    if args.only in (None, "runs"):
        from .runs_bench import main as runs

        for block in runs(settings.models_dir):
            print(block, flush=True)
    if args.only in (None, "responses"):
        from .responses_bench import main as responses

        for block in responses(settings.models_dir):
            print(block, flush=True)
    if args.only in (None, "embeddings"):
        from .embeddings_bench import main as embeddings

        for block in embeddings():
            print(block, flush=True)
    if args.only in (None, "chat"):
        from .chat_bench import main as chat

        for block in chat(settings):
            print(block, flush=True)
    if args.only in (None, "concurrency"):
        from .concurrency_bench import main as concurrency

        for block in concurrency(settings):
            print(block, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
