"""`classicfy corpus build --out DIR`: render music21's scores into the built-in corpus."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from classicfy.cli.options import add_work_options, int_at_least, positive_int, split_names, workspace
from classicfy.config import TEMPI, TIMBRES, BuildOptions


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "corpus",
        help="the built-in classical corpus",
        description="Build the built-in corpus of real scores rendered to audio.",
    )
    corpus_commands = parser.add_subparsers(dest="corpus_command", required=True, metavar="COMMAND")
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
        choices=TIMBRES,
        default=BuildOptions.timbre,
        help="piano: every part on one piano, so a model learns composition, not "
        "instrumentation (default); score: the score's instruments; mixed: a seeded "
        "random ensemble per piece",
    )
    build.add_argument(
        "--tempo",
        choices=TEMPI,
        default=BuildOptions.tempo,
        help="drawn: each piece's beat rate drawn from 60-120 beats per minute, the same range for "
        "every composer, seeded per piece (default); score: the score's tempo marks, music21's "
        "120 bpm where it has none (which tells composers apart by tempo alone)",
    )
    build.add_argument(
        "--max-pieces-per-composer",
        type=positive_int,
        default=BuildOptions.max_pieces_per_composer,
        metavar="N",
        help="seeded sample of at most N pieces per composer (default: %(default)s)",
    )
    build.add_argument("--composers", metavar="A,B,...", help="only these composers (default: all)")
    build.add_argument(
        "--renditions",
        type=int_at_least(0),
        default=BuildOptions.renditions,
        metavar="N",
        help="also render every piece N more ways, for training only: an ensemble drawn as --timbre mixed "
        "draws one, the tempo within 10%%, velocities and onsets humanised; they are listed with "
        "their recording in DIR/varied.csv (default: %(default)s)",
    )
    build.add_argument(
        "--piano-renditions",
        type=int_at_least(0),
        default=BuildOptions.piano_renditions,
        metavar="N",
        help="also render every piece N more ways on the piano, for training only: the tempo within 10%%, "
        "velocities and onsets humanised; listed in DIR/piano-varied.csv (default: %(default)s)",
    )
    build.add_argument(
        "--soundfont",
        type=Path,
        metavar="FILE",
        help="SoundFont to render with (default: the General MIDI one pretty_midi ships)",
    )
    build.add_argument(
        "--seed",
        type=int_at_least(0),
        default=BuildOptions.seed,
        help="seed for piece sampling and mixed ensembles (default: %(default)s)",
    )
    add_work_options(build, cache=False)
    build.set_defaults(handler=run_build)


def run_build(args: argparse.Namespace) -> int:
    """Render the built-in corpus from music21's scores and print what it holds."""
    from classicfy.data.build import build_corpus

    options = BuildOptions(
        timbre=args.timbre,
        max_pieces_per_composer=args.max_pieces_per_composer,
        composers=split_names(args.composers) if args.composers else (),
        soundfont=str(args.soundfont) if args.soundfont else None,
        seed=args.seed,
        tempo=args.tempo,
        renditions=args.renditions,
        piano_renditions=args.piano_renditions,
    )
    work = workspace(args)
    result = build_corpus(args.out, options, jobs=work.jobs, progress=work.progress)
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
