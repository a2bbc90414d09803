"""`classicfy tag PATH...`: zero-shot tags from a pretrained musicnn tagger."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from classicfy.cli.options import add_device_option, add_output_options, add_overlap_option
from classicfy.cli.output import answer_each, each_file
from classicfy.config import TAGGERS


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "tag",
        help="zero-shot tags from a pretrained music tagger",
        description="Tag recordings of any length and format with a pretrained musicnn model (MagnaTagATune: "
        "50 tags such as classical, strings, piano, harpsichord, choir, opera; Million Song Dataset: 50 genre "
        "and mood tags). The recording is resampled to 16 kHz and peak-normalised; tags are averaged over "
        "its 3-second patches.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="recordings, or folders of recordings")
    parser.add_argument("--model", default=TAGGERS[0], choices=TAGGERS, help="pretrained tagger (default: %(default)s)")
    add_output_options(
        parser, 5, ("table", "json", "csv"), "json: every tag's probability; csv: one row per file, every tag"
    )
    add_overlap_option(parser)
    parser.add_argument(
        "--no-progress", action="store_true", help="hide progress bars (hidden anyway when stderr is not a terminal)"
    )
    add_device_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print zero-shot tags of recordings from a pretrained musicnn tagger."""
    from classicfy.tagging import Tagger
    from classicfy.workspace import Workspace

    def line(result: Any) -> str:
        return f"{result.path}: " + ", ".join(f"{tag} {p:.2f}" for tag, p in result.top(args.top_k))

    tagger = Tagger(args.model, args.device, args.overlap)
    progress = Workspace.create(progress=False if args.no_progress else None).progress
    results = each_file(args.paths, tagger.tag, progress)
    nothing = "no recording could be tagged"
    return answer_each(results, line, args, nothing, lambda r: r.to_json(), lambda r: r.csv_row(args.top_k))
