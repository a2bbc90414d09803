"""`classicfy features DATA`: extract and cache the features of a dataset, and summarise it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from classicfy.cli.options import add_feature_options, feature_config, workspace
from classicfy.errors import ClassicfyError

if TYPE_CHECKING:
    from classicfy.features.extraction import ExtractionReport


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "features",
        help="extract and cache features of a dataset",
        description="Decode every recording of DATA, cut it into windows and cache its log-mel, MFCC "
        "and chroma features; print recordings, windows, audio length and skipped files.",
    )
    parser.add_argument("data", metavar="DATA", help="folder DATA/<label>/**/<file>, or a CSV path,label[,group,split]")
    add_feature_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Extract and cache the features of every recording, then summarise the dataset."""
    from classicfy.data.builtin import resolve_dataset
    from classicfy.data.manifest import list_dataset
    from classicfy.features.extraction import extract_dataset

    config = feature_config(args)  # a bad option is refused before a corpus is built
    work = workspace(args)
    recordings = list_dataset(resolve_dataset(args.data, work))
    report = extract_dataset(recordings, config, work)
    print_extraction_summary(report, config.audio.window_s)
    if not report.usable:
        raise ClassicfyError(f"no usable recordings in {args.data}")
    return 0


def print_extraction_summary(report: ExtractionReport, window_s: float) -> None:
    """Totals, a table per label, duplicate files and skipped files with their reasons."""
    labels = report.per_label()
    print(
        f"recordings: {len(report.usable)} usable of {len(report.statuses)} "
        f"({report.cache_hits} from cache), {len(labels)} labels"
    )
    silent = f" ({report.silent_windows} silent windows dropped)" if report.silent_windows else ""
    print(f"windows:    {report.n_windows} of {window_s:g} s{silent}")
    print(f"audio:      {report.seconds:.1f} s ({report.seconds / 60:.1f} min)")
    if labels:
        print(f"\n  {'label':<16} {'recordings':>10} {'groups':>7} {'minutes':>8} {'windows':>8}")
        for label, row in labels.items():
            print(f"  {label:<16} {row.recordings:>10} {row.groups:>7} {row.minutes:>8.1f} {row.windows:>8}")
        print()
    if report.duplicates:
        print(f"duplicates: {len(report.duplicates)} sets of files with identical audio (kept in one group each)")
        for paths in report.duplicates:
            print("  " + " = ".join(str(p) for p in paths))
    if report.skipped:
        print(f"skipped:    {len(report.skipped)} files")
        for status in report.skipped:
            print(f"  {status.path}: {status.skip_reason}")
