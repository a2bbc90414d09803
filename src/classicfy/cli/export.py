"""`classicfy export RUN --out DIR`: a run's neural models as ONNX files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from classicfy.config import EXPORT_FORMATS


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "export",
        help="export a run's models to ONNX",
        description="Write OUT/NAME.onnx per neural model of the run (input `features`, any batch size; output "
        "`probabilities` over the run's labels) and OUT/NAME.json with its labels, input shape and feature config. "
        "Each export is checked against PyTorch (largest difference at most 1e-4). Features are computed in "
        "Python: classicfy.export.onnx_inputs(NAME.json, recording) gives a model's input for a recording.",
    )
    parser.add_argument("run", type=Path, metavar="RUN", help="run folder written by classicfy train")
    parser.add_argument("--format", choices=EXPORT_FORMATS, default="onnx", help="export format (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the exported files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Export a run's neural models to ONNX, each checked against PyTorch."""
    from classicfy.export import export_run

    for model in export_run(args.run, args.out):
        print(f"{model.path}  (largest difference from PyTorch: {model.max_difference:.1e})")
    print(f"labels, feature configs and ensemble weights beside them in {args.out}")
    return 0
