"""`classicfy serve RUN`: an HTTP API and a web page answering "who wrote this?" with one run."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from classicfy.cli.options import add_device_option, positive_float, positive_int

SETTINGS_VARIABLE = "CLASSICFY_SERVE_SETTINGS"  # how `--workers N` processes learn the settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve a run over HTTP: an API and a web page",
        description="Load the run RUN once and serve POST /v1/predict (a multipart upload, field 'file': the JSON "
        "of `classicfy predict --format json`), GET /v1/model, /healthz, /readyz, the OpenAPI docs at /docs, and "
        "a page at / to drop a recording on. Ctrl-C or SIGTERM stops it: requests in flight finish.",
    )
    parser.add_argument("run", type=Path, metavar="RUN", help="a trained run folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=positive_int, default=8000, help="port to listen on (default: %(default)s)")
    parser.add_argument(
        "--workers", type=positive_int, default=1, metavar="N", help="server processes (default: %(default)s)"
    )
    parser.add_argument(
        "--max-upload-mb",
        type=positive_float,
        default=200.0,
        metavar="MB",
        help="larger uploads are refused with 413 (default: %(default)s)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=positive_int,
        default=2,
        metavar="K",
        help="recordings classified at once per process; more are refused with 503 (default: %(default)s)",
    )
    parser.add_argument(
        "--top-k", type=positive_int, default=5, metavar="K", help="labels listed per answer (default: %(default)s)"
    )
    add_device_option(parser)
    parser.set_defaults(handler=run)


def app_from_environment() -> Any:
    """The app of each `--workers` process, from the settings its parent put in the environment."""
    from classicfy.serving.app import ServeSettings, serve_app

    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    return serve_app(ServeSettings(**(settings | {"run": Path(settings["run"])})))


def run(args: argparse.Namespace) -> int:
    """Serve until stopped."""
    import uvicorn

    from classicfy.cli import Terminated
    from classicfy.serving.app import ServeSettings, serve_app

    settings = ServeSettings(args.run.resolve(), args.max_upload_mb, args.max_concurrent, args.top_k, args.device)
    app = serve_app(settings)  # the run is loaded here: a damaged one fails before the port opens
    print(f"classicfy serve: http://{args.host}:{args.port}/  (run {args.run}; API docs at /docs)", flush=True)
    os.environ[SETTINGS_VARIABLE] = json.dumps(vars(settings) | {"run": str(settings.run)})
    served = app if args.workers == 1 else "classicfy.cli.serve:app_from_environment"
    with contextlib.suppress(KeyboardInterrupt, Terminated):  # uvicorn passes the signal on, once it stopped
        uvicorn.run(served, factory=args.workers > 1, host=args.host, port=args.port, workers=args.workers,
                    log_level="warning", timeout_graceful_shutdown=30)  # fmt: skip
    print("classicfy serve: stopped", flush=True)
    return 0
