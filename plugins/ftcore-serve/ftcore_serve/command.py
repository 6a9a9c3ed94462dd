"""``ftcore serve RUN_DIR [--host H] [--port P] [--max-batch-size N] [--batch-timeout S]
[--workers N]``: a finished run's exported model behind LitServe."""

from __future__ import annotations

import argparse
import signal
import socket
from pathlib import Path
from typing import Any

from ftcore.errors import UserError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
HOSTS = ("127.0.0.1", "0.0.0.0", "::")  # what LitServe binds to


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir", help="a finished run directory (the folder `ftcore run` printed)"
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on: {DEFAULT_HOST} (default, this machine only), 0.0.0.0 or "
        f":: (every interface: put an authenticating proxy in front)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=8,
        metavar="N",
        help="dynamic batching: at most N requests run through the model together (default 8)",
    )
    parser.add_argument(
        "--batch-timeout",
        type=float,
        default=0.01,
        metavar="S",
        help="dynamic batching: wait up to S seconds for a batch to fill (default 0.01)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="model processes, each with its own copy of the model (default 1)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="a request waiting longer than S seconds for a worker is answered 504 (default 60)",
    )
    parser.add_argument(
        "--adapter",
        action="store_true",
        help="use the base model plus the run's adapter/ (e.g. LoRA) instead of model/",
    )
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run Python code shipped in the run's model/ (never done without this flag)",
    )


def run(args: argparse.Namespace) -> int:
    from ftcore.api import finished_run, plugin_hooks, value

    check_options(args)
    litserve = _litserve()
    from ftcore_serve.requests import MAX_BODY

    run_dir = Path(args.run_dir).expanduser()
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such folder; give the run directory `ftcore run` printed")
    finished = finished_run(run_dir, plugin_hooks())
    api, paths = build_api(run_dir, finished, args, value)
    server = litserve.LitServer(
        api,
        accelerator="cpu",
        workers_per_device=args.workers,
        timeout=args.timeout,
        max_payload_size=MAX_BODY,
        model_metadata={"run_dir": str(run_dir.resolve()), "task": finished.recipe.task},
    )
    check_port(args.host, args.port)
    shown = ", ".join(paths)
    print(
        f"ftcore serve: {run_dir} ({finished.recipe.task}) on http://{args.host}:{args.port}: "
        f"{shown}, GET /health",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # LitServer stops its workers on Ctrl-C only
    server.run(host=args.host, port=args.port, generate_client_file=False, log_level="warning")
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def check_port(host: str, port: int) -> None:
    """One line when the port is taken, before any model is loaded."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"--port: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                f"stop what uses it or give another --port"
            ) from None


def build_api(run_dir: Path, finished: Any, args: argparse.Namespace, value: Any) -> tuple:
    """The LitAPI for the run's head, and the endpoints it answers."""
    from ftcore_serve.apis import ChatAPI, ChatSpec, PredictAPI

    batching = {"max_batch_size": args.max_batch_size, "batch_timeout": args.batch_timeout}
    model = {"adapter": args.adapter, "trust_remote_code": args.trust_remote_code}
    if generates(finished.head_options):
        spec = ChatSpec(value(getattr(finished.head_options, "format", "instruction")))
        return ChatAPI(run_dir, spec=spec, **model, **batching), ["POST /v1/chat/completions"]
    return PredictAPI(run_dir, **model, **batching), ["POST /predict"]


def generates(options: Any) -> bool:
    """Whether the head writes text (its options hold generation settings, as the
    generation head's do): then it answers chat completions, else ``/predict``."""
    return getattr(options, "max_new_tokens", None) is not None


def check_options(args: argparse.Namespace) -> None:
    """One line for an option out of range."""
    if args.host not in HOSTS:
        raise UserError(f"--host: {args.host}; LitServe listens on one of: {', '.join(HOSTS)}")
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port: {args.port} is not a port; give 1 to 65535")
    if args.max_batch_size < 1:
        raise UserError(f"--max-batch-size: {args.max_batch_size}; give 1 or more")
    if args.batch_timeout < 0:
        raise UserError(f"--batch-timeout: {args.batch_timeout}; give 0 or more seconds")
    if args.workers < 1:
        raise UserError(f"--workers: {args.workers}; give 1 or more")
    if args.timeout <= 0:
        raise UserError(f"--timeout: {args.timeout}; give more than 0 seconds")


def _litserve() -> Any:
    try:
        import litserve
    except ImportError:
        raise UserError(
            "ftcore serve needs the litserve package: pip install litserve "
            "(or pip install -e plugins/ftcore-serve)"
        ) from None
    return litserve
