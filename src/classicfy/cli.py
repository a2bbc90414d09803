"""The `classicfy` command line: parse arguments, call the library, print.

Heavy libraries are imported inside the command functions so `classicfy --help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from classicfy.errors import ClassicfyError


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _add_feature_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="feature cache folder (default: $CLASSICFY_CACHE or the user cache folder)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes (default: %(default)s, the number of cores)",
    )
    parser.add_argument(
        "--sr",
        type=_positive_int,
        default=22050,
        metavar="HZ",
        help="sample rate audio is resampled to (default: %(default)s)",
    )
    parser.add_argument(
        "--window",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="window length in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--hop",
        type=_positive_float,
        metavar="S",
        help="seconds between window starts (default: the window length, no overlap)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _feature_config(args: argparse.Namespace):
    from classicfy.audio import AudioConfig
    from classicfy.features import FeatureConfig

    try:
        audio = AudioConfig(sample_rate=args.sr, window_s=args.window, hop_s=args.hop or args.window)
    except ValueError as error:
        raise ClassicfyError(str(error)) from None
    return FeatureConfig(audio=audio)


def _cache_root(args: argparse.Namespace) -> Path:
    from classicfy.cache import default_cache_dir

    return args.cache or default_cache_dir()


def cmd_features(args: argparse.Namespace) -> int:
    """Extract and cache the features of every recording, then summarise the dataset."""
    from classicfy.data.manifest import list_dataset
    from classicfy.extraction import extract_dataset

    recordings = list_dataset(args.data)
    config = _feature_config(args)
    report = extract_dataset(recordings, config, _cache_root(args), args.jobs, progress=not args.no_progress)
    usable = report.usable
    labels = sorted({r.label for r in report.recordings})
    print(
        f"recordings: {len(usable)} usable of {len(report.statuses)} "
        f"({report.cache_hits} from cache), {len(labels)} labels"
    )
    print(f"windows:    {report.n_windows} of {config.audio.window_s:g} s")
    print(f"audio:      {report.seconds:.1f} s ({report.seconds / 60:.1f} min)")
    if report.duplicates:
        print(f"duplicates: {len(report.duplicates)} sets of files with identical audio (kept in one group each)")
        for paths in report.duplicates:
            print("  " + " = ".join(str(p) for p in paths))
    if report.skipped:
        print(f"skipped:    {len(report.skipped)} files")
        for status in report.skipped:
            print(f"  {status.path}: {status.skip_reason}")
    if not usable:
        raise ClassicfyError(f"no usable recordings in {args.data}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classicfy",
        description="Train, evaluate and use deep classifiers of classical-music recordings.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    features = commands.add_parser(
        "features",
        help="extract and cache features of a dataset",
        description="Decode every recording of DATA, cut it into windows and cache its log-mel, MFCC "
        "and chroma features; print recordings, windows, audio length and skipped files.",
    )
    features.add_argument(
        "data", metavar="DATA", help="folder DATA/<label>/**/<file>, or a CSV path,label[,group,split]"
    )
    _add_feature_options(features)
    features.set_defaults(handler=cmd_features)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.DEBUG if args.verbose else logging.INFO)
    try:
        return args.handler(args)
    except ClassicfyError as error:
        print(f"classicfy: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("classicfy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
