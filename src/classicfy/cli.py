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
    from classicfy.data.corpus import resolve_dataset
    from classicfy.data.manifest import list_dataset
    from classicfy.extraction import extract_dataset

    cache_root = _cache_root(args)
    recordings = list_dataset(resolve_dataset(args.data, cache_root, args.jobs, not args.no_progress))
    config = _feature_config(args)
    report = extract_dataset(recordings, config, cache_root, args.jobs, progress=not args.no_progress)
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


def cmd_corpus_build(args: argparse.Namespace) -> int:
    """Render the built-in corpus from music21's scores and print what it holds."""
    from classicfy.data.corpus import BuildOptions, build_corpus

    composers = tuple(c.strip() for c in args.composers.split(",") if c.strip()) if args.composers else ()
    options = BuildOptions(
        timbre=args.timbre,
        max_pieces_per_composer=args.max_pieces_per_composer,
        composers=composers,
        soundfont=str(args.soundfont) if args.soundfont else None,
        seed=args.seed,
    )
    result = build_corpus(args.out, options, jobs=args.jobs, progress=not args.no_progress)
    print(
        f"pieces:   {len(result.rendered)} ({result.reused} already rendered), "
        f"{len(result.failures)} failed, in {result.seconds:.0f} s"
    )
    _print_corpus_table(args.out / "manifest.csv", "composer")
    for piece, reason in result.failures:
        print(f"  failed {piece.source}: {reason}")
    print(f"manifests: {args.out / 'manifest.csv'} (composers), {args.out / 'eras.csv'} (eras)")
    return 0


def _print_corpus_table(manifest: Path, column: str) -> None:
    """Pieces, works and minutes per value of `column` (composer or era), and the label used."""
    import csv

    with open(manifest, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    print(f"{column:<16} {'label':<12} {'pieces':>6} {'works':>6} {'minutes':>8}")
    for value in sorted({r[column] for r in rows}):
        mine = [r for r in rows if r[column] == value]
        minutes = sum(float(r["duration_s"]) for r in mine) / 60
        label = mine[0]["label"] or "-"
        print(f"{value:<16} {label:<12} {len(mine):>6} {len({r['group'] for r in mine}):>6} {minutes:>8.1f}")


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

    corpus = commands.add_parser(
        "corpus",
        help="the built-in classical corpus",
        description="Build the built-in corpus of real scores rendered to audio.",
    )
    corpus_commands = corpus.add_subparsers(dest="corpus_command", required=True, metavar="COMMAND")
    build = corpus_commands.add_parser(
        "build",
        help="render music21's scores to audio, labelled by composer and era",
        description="Parse the classical scores shipped with music21, export them to MIDI and render them "
        "with a General MIDI SoundFont into OUT/<composer>/<piece>.flac (22.05 kHz mono), with "
        "OUT/manifest.csv (label = composer) and OUT/eras.csv (label = era). Only missing pieces "
        "are rendered; scores that fail are listed in OUT/failures.csv.",
    )
    build.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to build into")
    build.add_argument(
        "--timbre",
        choices=("piano", "score", "mixed"),
        default="piano",
        help="piano: every part on one piano, so a model learns composition, not "
        "instrumentation (default); score: the score's instruments; mixed: a seeded "
        "random ensemble per piece",
    )
    build.add_argument(
        "--max-pieces-per-composer",
        type=_positive_int,
        default=40,
        metavar="N",
        help="seeded sample of at most N pieces per composer (default: %(default)s)",
    )
    build.add_argument("--composers", metavar="A,B,...", help="only these composers (default: all)")
    build.add_argument(
        "--soundfont",
        type=Path,
        metavar="FILE",
        help="SoundFont to render with (default: the General MIDI one pretty_midi ships)",
    )
    build.add_argument("--seed", type=int, default=0, help="seed for piece sampling and mixed ensembles")
    build.add_argument(
        "--jobs",
        type=_positive_int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="scores rendered at once (default: %(default)s)",
    )
    build.add_argument("--no-progress", action="store_true", help="hide progress bars")
    build.set_defaults(handler=cmd_corpus_build)
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
