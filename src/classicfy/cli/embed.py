"""`classicfy embed RUN|--model TAGGER PATH... --out FILE`: embeddings for clustering, retrieval and plots."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classicfy.cli.options import add_device_option, add_overlap_option, add_work_options, workspace
from classicfy.config import TAGGERS
from classicfy.errors import AudioError, ClassicfyError

if TYPE_CHECKING:
    from classicfy.embedding import Embeddings
    from classicfy.workspace import Workspace


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "embed",
        help="embeddings of recordings, from a trained run or a pretrained tagger",
        description="Write one vector per window (or per recording) to Parquet or NumPy's .npz, with the "
        "recording's path, the window's start and end and its label where known: for clustering, retrieval "
        "and plots. The vectors are what a model's last layers classify: of one model of a trained run "
        "(classicfy embed RUN PATH...), or of a pretrained musicnn tagger's backbone (classicfy embed "
        "--model vgg-mtt PATH...). Recordings are streamed and windowed as predict does it; silent windows "
        "are left out.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="RUN|PATH",
        help="a run folder written by classicfy train (unless --model names a tagger), then recordings or "
        "folders of recordings",
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        help=f"a pretrained tagger ({', '.join(TAGGERS)}), or one of the run's models (default: its first)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="FILE.parquet or FILE.npz")
    parser.add_argument(
        "--level",
        choices=("window", "recording"),
        default="window",
        help="one row per window, or per recording with the mean of its windows (default: %(default)s)",
    )
    parser.add_argument(
        "--labelled",
        action="store_true",
        help="the PATHs are datasets as train reads them (label folders, a CSV, builtin:NAME): rows get labels",
    )
    add_overlap_option(parser)
    add_work_options(parser)
    add_device_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the embeddings of recordings to a Parquet or .npz file."""
    import sys

    import torch

    from classicfy.cli.output import each_file
    from classicfy.devices import resolve_device
    from classicfy.embedding import FORMATS, Embeddings

    work = workspace(args)
    if args.out.suffix.lower() not in FORMATS:  # before any work
        raise ClassicfyError(f"--out must end in {' or '.join(FORMATS)}, got {args.out.name}")
    source, embed_one, window_s, paths = _embedder(args, work.device)
    if resolve_device(work.device).type == "cpu":
        torch.set_num_threads(work.jobs)
    labels = _labels(paths, args.labelled, work)
    rows, skipped = [], 0
    for path, result in zip(labels, each_file(list(labels), embed_one, work.progress), strict=True):
        if isinstance(result, AudioError):
            print(f"classicfy: skipped {result}", file=sys.stderr)
            skipped += 1
        else:
            rows.append((path, labels[path], *result))
    embeddings = Embeddings.of_windows(source, window_s, rows)
    if args.level == "recording":
        embeddings = embeddings.per_recording()
    embeddings.write(args.out)
    _report(embeddings, args.out, skipped)
    return 0


def _embedder(args: argparse.Namespace, device: str) -> tuple[str, Any, float, list[str]]:
    """The source's name, its `embed_one(path)`, its window length and the PATHs to embed."""
    if args.model in TAGGERS:
        from classicfy.embedding import TaggerEmbedder

        tagger = TaggerEmbedder(args.model, device, args.overlap)
        return args.model, tagger.embed_one, tagger.window_s, args.paths
    from classicfy.predict import Classifier
    from classicfy.rundir import RunFolder

    run_dir, *paths = args.paths
    if not RunFolder(run_dir).config_path.is_file():
        raise ClassicfyError(
            f"{run_dir} is not a run folder (no config.toml); to embed with a pretrained tagger, pass "
            f"--model {TAGGERS[0]} (or {', '.join(TAGGERS[1:])})"
        )
    if not paths:
        raise ClassicfyError("no recordings to embed: give them after the run folder")
    trained = RunFolder(run_dir).trained_model_names()
    if not trained:
        raise ClassicfyError(f"{run_dir} holds no trained model yet")
    model = args.model or trained[0]
    if model == "ensemble":
        raise ClassicfyError(f"{run_dir}: embeddings come from one model; the ensemble has none of its own")
    classifier = Classifier.load(run_dir, model, device)
    return f"{run_dir}:{model}", classifier.embed_one, classifier.feature_configs[0].audio.window_s, paths


def _labels(paths: list[str], labelled: bool, work: Workspace) -> dict[Path, str | None]:
    """Every file to embed, with its label where its PATH is a dataset (`--labelled`, or builtin:NAME)."""
    from classicfy.data.builtin import resolve_dataset
    from classicfy.data.manifest import list_dataset
    from classicfy.features.audio import audio_files

    files: dict[Path, str | None] = {}
    for path in paths:
        if labelled or path.startswith("builtin:"):
            files.update({r.path: r.label for r in list_dataset(resolve_dataset(path, work))})
        else:
            files.update(dict.fromkeys(audio_files([Path(path)])))
    return files


def _report(embeddings: Embeddings, out: Path, skipped: int) -> None:
    import sys

    rows, dimension = embeddings.vectors.shape
    recordings = len(set(embeddings.paths))
    skip_note = f", {skipped} skipped" if skipped else ""
    summary = f"{rows} {embeddings.level} row(s) of {dimension} values from {recordings} recording(s){skip_note}"
    print(f"{out}: {summary}", file=sys.stderr)
