"""`classicfy predict RUN PATH...`: answer "who wrote this?" with a trained run."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classicfy.cli.options import add_device_option, add_output_options, add_work_options, workspace
from classicfy.cli.output import answer_each, each_file, unique_stem
from classicfy.errors import AudioError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from classicfy.predict import Prediction


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "predict",
        help="classify new recordings with a trained run",
        description="Decode each recording, cut it into the run's windows, score them with the run's ensemble "
        "(or one model) and average in log space into one answer per recording.",
    )
    parser.add_argument("run", type=Path, metavar="RUN", help="run folder written by classicfy train")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="recordings, or folders of recordings")
    parser.add_argument("--model", default="ensemble", help="ensemble (default) or the name of one trained model")
    add_output_options(
        parser,
        3,
        ("table", "json", "csv"),
        "json: label, probabilities, top K and per-window segments; csv: one row per file",
    )
    parser.add_argument(
        "--timeline",
        type=Path,
        metavar="DIR",
        help="also write DIR/NAME.png per recording: each class's probability along its time axis, and "
        "below it the notes basic-pitch hears",
    )
    add_work_options(parser, cache=False)
    add_device_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Answer "who wrote this?" for recordings with a trained run."""

    def line(prediction: Prediction) -> str:
        ranked = ", ".join(f"{label} {p:.2f}" for label, p in prediction.top(args.top_k))
        return f"{prediction.path}: {prediction.label}  ({ranked}; {len(prediction.segments)} windows)"

    if args.timeline is not None:
        args.timeline.mkdir(parents=True, exist_ok=True)
    return answer_each(
        _with_timelines(_predictions(args), args.timeline),
        line,
        args,
        "no recording could be classified",
        lambda r: r.to_json(args.top_k),
        lambda r: _csv_row(r, args.top_k),
    )


def _csv_row(prediction: Prediction, top_k: int) -> tuple[list[str], list[Any]]:
    labels = list(prediction.probabilities)
    ranked = ";".join(f"{label}:{p:.4f}" for label, p in prediction.top(top_k))
    header = ["path", "label", "probability", "top_k", "windows", *(f"p_{label}" for label in labels)]
    values = [f"{prediction.probabilities[label]:.6f}" for label in labels]
    row = [str(prediction.path), prediction.label, f"{prediction.probability:.6f}", ranked, len(prediction.segments)]
    return header, [*row, *values]


def _predictions(args: argparse.Namespace) -> Iterator[Prediction | AudioError]:
    """Predictions (or skips) for every file: in this process, or spread over `--jobs` workers."""
    from classicfy.devices import resolve_device
    from classicfy.features.audio import audio_files
    from classicfy.predict import Classifier, predict_files
    from classicfy.workers import map_in_pool

    work = workspace(args)
    # A damaged run or an absent device fails here, before any work.
    classifier = Classifier.load(args.run, args.model, work.device)
    files = list(audio_files(args.paths))
    on_cpu = resolve_device(work.device).type == "cpu"
    if work.jobs == 1 or len(files) <= 1 or not on_cpu:  # one process feeds a GPU
        import torch

        if on_cpu:
            torch.set_num_threads(work.jobs)  # one process: the cores go to the models' threads
        yield from each_file(files, classifier.predict_one, work.progress)
        return
    tasks = [(args.run, args.model, [path]) for path in files]
    for results in map_in_pool(predict_files, tasks, work.jobs, "predicting", work.progress):
        yield from results


def _with_timelines(
    results: Iterable[Prediction | AudioError], folder: Path | None
) -> Iterator[Prediction | AudioError]:
    """Pass each result on, first drawing its timeline into `folder` (one PNG per recording)."""
    taken: set[str] = set()
    for result in results:
        if folder is not None and not isinstance(result, AudioError):
            _draw_timeline(result, folder / f"{unique_stem(result.path, taken)}.png")
        yield result


def _draw_timeline(prediction: Prediction, path: Path) -> None:
    """Each label's probability along the recording, from the prediction's windows."""
    import numpy as np

    from classicfy.evaluation.plots import plot_timeline

    labels = list(prediction.probabilities)
    segments = prediction.segments
    probs = np.array([[s["probabilities"][label] for label in labels] for s in segments]).reshape(-1, len(labels))
    window_s = segments[0]["end_s"] - segments[0]["start_s"] if segments else 0.0
    starts = np.array([s["start_s"] for s in segments])
    title = f"{prediction.path.name}: {prediction.label} ({prediction.probability:.2f})"
    plot_timeline(starts, window_s, probs, labels, title, path, _notes_heard(prediction.path))


def _notes_heard(path: Path) -> list[tuple[float, float, int, float]] | None:
    """The notes basic-pitch hears in the recording, for the roll under its timeline (None without basic-pitch)."""
    from classicfy.errors import ClassicfyError
    from classicfy.features.notes import transcribe

    try:
        return transcribe(path).events
    except ClassicfyError as error:
        log.warning("timeline of %s drawn without its notes: %s", path.name, error)
        return None
