"""The `classicfy` command line: parse arguments, call the library, print.

Heavy libraries are imported inside the command functions so `classicfy --help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from classicfy.errors import ClassicfyError

if TYPE_CHECKING:
    from classicfy.config import RunConfig


def _int_at_least(minimum: int):
    def integer(text: str) -> int:  # argparse names the type by this name: "invalid integer value"
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return integer


_positive_int = _int_at_least(1)


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _add_work_options(parser: argparse.ArgumentParser, cache: bool = True) -> None:
    """--cache, --jobs and --no-progress, which every command that does heavy work takes."""
    if cache:
        parser.add_argument(
            "--cache",
            type=Path,
            metavar="DIR",
            help="cache folder for features and the built-in corpus (default: $CLASSICFY_CACHE or the user "
            "cache folder)",
        )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes (default: %(default)s, the number of cores)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _add_output_options(parser: argparse.ArgumentParser, top: int, formats: tuple[str, ...], json_help: str) -> None:
    parser.add_argument(
        "--top-k",
        "--top",
        dest="top_k",
        type=_positive_int,
        default=top,
        metavar="K",
        help="most likely labels or tags listed per file (default: %(default)s)",
    )
    parser.add_argument(
        "--format",
        choices=formats,
        default="table",
        help=f"table: the top K per file; {json_help} (default: %(default)s)",
    )


def _add_ensemble_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fit-ensemble",
        action="store_true",
        help="weight the ensemble's members by fitting on the validation split (default: a plain "
        "average, steadier when the validation split holds few works)",
    )


def _add_feature_options(parser: argparse.ArgumentParser) -> None:
    _add_work_options(parser)
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


def _feature_config(args: argparse.Namespace):
    from classicfy.config import AudioConfig, FeatureConfig

    try:
        audio = AudioConfig(sample_rate=args.sr, window_s=args.window, hop_s=args.hop or args.window)
    except ValueError as error:
        raise ClassicfyError(str(error)) from None
    return FeatureConfig(audio=audio)


def _cache_root(args: argparse.Namespace) -> Path:
    from classicfy.features.cache import default_cache_dir

    return args.cache or default_cache_dir()


def cmd_features(args: argparse.Namespace) -> int:
    """Extract and cache the features of every recording, then summarise the dataset."""
    from classicfy.data.corpus import resolve_dataset
    from classicfy.data.manifest import list_dataset
    from classicfy.features.extraction import extract_dataset

    cache_root = _cache_root(args)
    config = _feature_config(args)  # a bad option is refused before a corpus is built
    recordings = list_dataset(resolve_dataset(args.data, cache_root, args.jobs, not args.no_progress))
    report = extract_dataset(recordings, config, cache_root, args.jobs, progress=not args.no_progress)
    _print_extraction_summary(report, config.audio.window_s)
    if not report.usable:
        raise ClassicfyError(f"no usable recordings in {args.data}")
    return 0


def _print_extraction_summary(report, window_s: float) -> None:
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


def _split_names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def cmd_train(args: argparse.Namespace) -> int:
    """Train the chosen models on DATA into the run folder RUN."""
    from classicfy.config import AugmentConfig, RunConfig, TrainConfig
    from classicfy.training.pipeline import load_run_config, train_run

    # A run remembers its dataset by absolute path, so that it can be resumed from anywhere.
    data = args.data if args.data.startswith("builtin:") else str(Path(args.data).resolve())
    if args.resume and (args.out / "config.toml").exists():
        config = load_run_config(args.out)
        if config.data != data:
            raise ClassicfyError(f"{args.out} was trained on {config.data}, not {data}")
        print(f"resuming {args.out} with the options it began with (its config.toml); training options given now "
              "are not used", file=sys.stderr)  # fmt: skip
    else:
        try:
            config = RunConfig(
                data=data,
                models=_split_names(args.models),
                val_fraction=args.val_fraction,
                test_fraction=args.test_fraction,
                rotate_validation=args.rotate_validation,
                features=_feature_config(args),
                train=TrainConfig(
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    seed=args.seed,
                    balance=args.balance,
                    mixup=args.mixup,
                    ema_epochs=args.ema,
                    balance_copies=args.balance_copies,
                    learning_rate=args.lr,
                    patience=args.patience,
                    keep=args.keep,
                    finetune=args.finetune,
                    max_windows_per_class=args.max_windows_per_class,
                    precision=args.precision,
                ),
                augment=AugmentConfig(
                    copies=args.augment_copies,
                    fill_to=args.augment_fill,
                    max_semitones=args.pitch_shift,
                    seed=args.seed,
                    background=str(args.background) if args.background else None,
                ),
            )
        except ValueError as error:
            raise ClassicfyError(str(error)) from None
    if config.rotate_validation and args.fit_ensemble:  # refused before training, not after it
        raise ClassicfyError("--fit-ensemble needs a validation side shared by every model: drop --rotate-validation")
    from classicfy.evaluation.pipeline import evaluate_run

    cache_root = _cache_root(args)
    result = train_run(config, args.out, cache_root, args.jobs, args.resume, not args.no_progress)
    print(f"run: {args.out}  ({len(result.labels)} labels: {', '.join(result.labels)})")
    for name, state in result.states.items():
        stop = "stopped early" if state.stopped_early else f"{state.epoch} epochs"
        kept = "" if config.train.keep == "best" else f", kept epoch {state.epoch}"
        print(f"  {name:<8} best validation macro-F1 {state.best_score:.3f} at epoch {state.best_epoch} ({stop}{kept})")
    if any(r.split == "test" for r in result.recordings):
        fitted = True if args.fit_ensemble else None  # None: a resumed run keeps the ensemble it saved
        evaluation = evaluate_run(
            args.out, cache_root, args.jobs, progress=not args.no_progress, fitted_ensemble=fitted
        )
        _print_evaluation(evaluation)
    return 0


def _print_evaluation(evaluation) -> None:
    from classicfy.evaluation.report import summary_rows

    short_header = ["model", "win acc", "win F1", "rec acc [95% CI]", "rec bal acc", "rec F1 [95% CI]",
                    "rec AUC", "rec logloss", "win/rec"]  # fmt: skip
    rows = [short_header, *summary_rows(evaluation.metrics)]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    print(f"\n{evaluation.scored_on}:")
    for row in rows:
        print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    for note in evaluation.notes:
        print(f"  {note}")
    print(f"report: {evaluation.out_dir / 'report.html'}  metrics: {evaluation.out_dir / 'metrics.json'}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Re-evaluate a run on its test split, or on another labelled dataset."""
    from classicfy.evaluation.pipeline import evaluate_run

    evaluation = evaluate_run(
        args.run,
        _cache_root(args),
        args.jobs,
        data=args.data,
        out=args.out,
        progress=not args.no_progress,
        fitted_ensemble=True if args.fit_ensemble else None,
    )
    _print_evaluation(evaluation)
    return 0


def _answer_each(results, table_line, output_format: str, nothing: str, json_of, csv_row=None) -> int:
    """Print each answer (a table line or a CSV row as it comes, or one JSON list at the end).

    A file that cannot be used arrives as its `AudioError`: it is named on stderr and skipped; no
    usable file at all is an error (exit code 2).
    """
    import csv
    import json

    from classicfy.errors import AudioError

    answers, skipped = [], 0
    writer = csv.writer(sys.stdout) if output_format == "csv" else None
    for result in results:
        if isinstance(result, AudioError):
            print(f"classicfy: skipped {result}", file=sys.stderr)
            skipped += 1
            continue
        answers.append(result)
        if output_format == "table":
            print(table_line(result), flush=True)
        elif writer is not None:
            header, row = csv_row(result)
            if len(answers) == 1:
                writer.writerow(header)
            writer.writerow(row)
    if output_format == "json":
        print(json.dumps([json_of(r) for r in answers], indent=2))
    if not answers:
        raise ClassicfyError(nothing)
    if skipped:
        print(f"classicfy: {len(answers)} answered, {skipped} skipped", file=sys.stderr)
    return 0


def _each_file(paths: list[Path], answer, progress: bool):
    """`answer(path)` for every file (folders expanded), or the `AudioError` it raised."""
    from tqdm import tqdm

    from classicfy.errors import AudioError
    from classicfy.features.audio import audio_files

    for path in tqdm(list(audio_files(paths)), unit="file", disable=not progress, leave=False):
        try:
            yield answer(path)
        except AudioError as error:
            yield error


def cmd_tag(args: argparse.Namespace) -> int:
    """Print zero-shot tags of recordings from a pretrained musicnn tagger."""
    from classicfy.tagging import Tagger

    def line(result) -> str:
        return f"{result.path}: " + ", ".join(f"{tag} {p:.2f}" for tag, p in result.top(args.top_k))

    tagger = Tagger(args.model)
    results = _each_file(args.paths, tagger.tag, not args.no_progress)
    return _answer_each(results, line, args.format, "no recording could be tagged", lambda r: r.to_json())


def _predictions(args: argparse.Namespace):
    """Predictions (or skips) for every file: in this process, or spread over `--jobs` workers."""
    from classicfy.features.audio import audio_files
    from classicfy.features.extraction import map_in_pool
    from classicfy.predict import Classifier, predict_files

    classifier = Classifier.load(args.run, args.model)  # a damaged run fails here, before any work
    files = list(audio_files(args.paths))
    progress = not args.no_progress
    if args.jobs == 1 or len(files) <= 1:
        import torch

        torch.set_num_threads(args.jobs)  # one process: the cores go to the models' threads
        yield from _each_file(files, classifier.predict_one, progress)
        return
    tasks = [(args.run, args.model, [path]) for path in files]
    for results in map_in_pool(predict_files, tasks, args.jobs, "predicting", progress):
        yield from results


def _timeline_name(path: Path, taken: set[str]) -> str:
    name, n = path.stem, 1
    while name in taken:
        n += 1
        name = f"{path.stem}-{n}"
    taken.add(name)
    return f"{name}.png"


def cmd_predict(args: argparse.Namespace) -> int:
    """Answer "who wrote this?" for recordings with a trained run."""
    from classicfy.errors import AudioError
    from classicfy.evaluation.report import plot_prediction_timeline

    def line(prediction) -> str:
        ranked = ", ".join(f"{label} {p:.2f}" for label, p in prediction.top(args.top_k))
        return f"{prediction.path}: {prediction.label}  ({ranked}; {len(prediction.segments)} windows)"

    def csv_row(prediction) -> tuple[list[str], list]:
        labels = list(prediction.probabilities)
        ranked = ";".join(f"{label}:{p:.4f}" for label, p in prediction.top(args.top_k))
        header = ["path", "label", "probability", "top_k", "windows", *(f"p_{label}" for label in labels)]
        values = [f"{prediction.probabilities[label]:.6f}" for label in labels]
        return header, [
            str(prediction.path),
            prediction.label,
            f"{prediction.probability:.6f}",
            ranked,
            len(prediction.segments),
            *values,
        ]

    taken: set[str] = set()

    def with_timelines(results):
        for result in results:
            if args.timeline is not None and not isinstance(result, AudioError):
                plot_prediction_timeline(result, args.timeline / _timeline_name(result.path, taken))
            yield result

    if args.timeline is not None:
        args.timeline.mkdir(parents=True, exist_ok=True)
    return _answer_each(
        with_timelines(_predictions(args)),
        line,
        args.format,
        "no recording could be classified",
        lambda r: r.to_json(args.top_k),
        csv_row,
    )


def cmd_export(args: argparse.Namespace) -> int:
    """Export a run's neural models to ONNX, each checked against PyTorch."""
    from classicfy.export import export_run

    for model in export_run(args.run, args.out):
        print(f"{model.path}  (largest difference from PyTorch: {model.max_difference:.1e})")
    print(f"labels, feature configs and ensemble weights beside them in {args.out}")
    return 0


# The demo's training recipe; --quick trades accuracy for a run of a few minutes on a small corpus.
DEMO_RECIPES = {
    "full": {"data": "builtin:composers", "epochs": 15, "max_windows_per_class": 300, "patience": 5},
    "quick": {"data": "builtin:composers-quick", "epochs": 8, "max_windows_per_class": 100, "patience": 5},
}
# A work is in one key and a composer writes in all of them: shifts of up to a tritone either way
# can put a training window in any key, so no model learns a composer from the keys of his training
# works (in the demo's split Mozart trains on D, G and C major and is tested on K. 458 in B flat,
# next to the F and E flat of Beethoven's training quartets).
DEMO_PITCH_SHIFT = 6.0
DEMO_MODELS = ("cnn", "gru", "vgg", "vgg-pretrained")


def demo_config(quick: bool = False, models: tuple[str, ...] | None = None, epochs: int | None = None) -> RunConfig:
    """The demo's run configuration (also what `bench/crossval.py` cross-validates)."""
    from classicfy.config import AugmentConfig, RunConfig, TrainConfig

    recipe = DEMO_RECIPES["quick" if quick else "full"]
    return RunConfig(
        data=recipe["data"],
        models=DEMO_MODELS if models is None else models,  # an empty list is refused, not replaced
        train=TrainConfig(
            epochs=epochs or recipe["epochs"],
            patience=recipe["patience"],
            max_windows_per_class=recipe["max_windows_per_class"],
            seed=0,
        ),
        # One copy of every recording, whatever its class: were the small classes given more, their
        # windows would be processed more often and "sounds processed" would name a composer.
        augment=AugmentConfig(copies=1, max_semitones=DEMO_PITCH_SHIFT),
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the built-in corpus: build it (once), train, evaluate and report."""
    from classicfy.evaluation.pipeline import evaluate_run
    from classicfy.training.pipeline import load_run_config, train_run

    cache_root = _cache_root(args)
    progress = not args.no_progress
    try:
        config = demo_config(args.quick, _split_names(args.models), args.epochs)
    except ValueError as error:
        raise ClassicfyError(str(error)) from None
    resume = (args.out / "config.toml").exists()
    if resume:
        print(f"continuing the demo run in {args.out} with its own configuration (delete it to start afresh)")
        config = load_run_config(args.out)
    result = train_run(config, args.out, cache_root, args.jobs, resume=resume, progress=progress)
    print(
        f"built-in corpus: {len(result.recordings)} recordings of {len(result.labels)} composers "
        f"({', '.join(result.labels)})"
    )
    _print_evaluation(evaluate_run(args.out, cache_root, args.jobs, progress=progress))
    return 0


def cmd_corpus_build(args: argparse.Namespace) -> int:
    """Render the built-in corpus from music21's scores and print what it holds."""
    from classicfy.config import BuildOptions
    from classicfy.data.corpus import build_corpus

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

    train = commands.add_parser(
        "train",
        help="train classifiers on a labelled dataset",
        description="Extract features, split by work (no work on two sides), augment and balance the training "
        "data, and train each model with early stopping on validation macro-F1. Writes the run folder RUN: "
        "config.toml, labels.json, split.csv, models/, history/, checkpoints/.",
    )
    train.add_argument("data", metavar="DATA", help="dataset folder, CSV, builtin:composers or builtin:eras")
    train.add_argument("--out", type=Path, required=True, metavar="RUN", help="run folder to write")
    train.add_argument(
        "--models",
        default="cnn,gru,vgg",
        metavar="A,B",
        help="models to train: cnn, gru, vgg, and vgg-pretrained, musicnn-pretrained (musicnn's taggers as "
        "backbones with a new head) (default: %(default)s)",
    )
    train.add_argument(
        "--max-windows-per-class",
        type=_positive_int,
        metavar="N",
        help="per epoch, draw at most N windows of each class (a fresh sample each epoch); bounds "
        "epochs when long works dominate (default: every window)",
    )
    train.add_argument(
        "--finetune",
        action="store_true",
        help="pretrained models: train the backbone too, at a tenth of the learning rate",
    )
    train.add_argument("--epochs", type=_positive_int, default=30, help="most epochs per model (default: %(default)s)")
    train.add_argument(
        "--batch-size",
        type=_int_at_least(2),
        default=32,
        metavar="B",
        help="windows per batch, at least 2 for batch norm (default: %(default)s)",
    )
    train.add_argument("--lr", type=_positive_float, default=2e-3, help="AdamW learning rate (default: %(default)s)")
    train.add_argument(
        "--patience",
        type=_positive_int,
        default=8,
        help="epochs without a better validation macro-F1 before stopping (default: %(default)s)",
    )
    train.add_argument(
        "--keep",
        choices=("best", "last"),
        default="best",
        help="the weights saved: of the best validation epoch (with early stopping), or after the last epoch, "
        "every epoch run (default: %(default)s)",
    )
    train.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        help="seed of the split, initialisation and augmentation (default: %(default)s)",
    )
    train.add_argument(
        "--balance",
        choices=("oversample", "weights", "none"),  # balance.STRATEGIES, without importing numpy for --help
        default="oversample",
        help="oversample smaller classes, weight the loss, or neither (default: %(default)s)",
    )
    train.add_argument(
        "--augment-copies",
        type=int,
        default=1,
        metavar="K",
        help="augmented copies of each training recording (default: %(default)s)",
    )
    train.add_argument(
        "--augment-fill",
        type=_positive_int,
        metavar="N",
        help="give the recordings of a class with fewer than N windows more copies (up to 4 each), so small "
        "classes are oversampled with new versions of their music rather than repeats; beware that the models "
        "can then learn 'sounds processed' as a small class (see --balance-copies and the README; default: off)",
    )
    train.add_argument(
        "--pitch-shift",
        type=_positive_float,
        default=2.0,
        metavar="SEMITONES",
        help="augmented copies are shifted by up to this many semitones either way; 6 reaches every key, so a "
        "model cannot tell a composer by the keys of the works it trained on (default: %(default)s)",
    )
    train.add_argument("--background", type=Path, metavar="DIR", help="folder of noise recordings to mix in")
    train.add_argument("--mixup", type=float, default=0.0, metavar="A", help="mixup alpha; 0 is off (default)")
    train.add_argument(
        "--ema",
        type=_non_negative_float,
        default=0.0,
        metavar="EPOCHS",
        help="validate and keep a moving average of the weights over about this many epochs, which steadies "
        "models that overfit a few training works; 0 is off (default)",
    )
    train.add_argument(
        "--balance-copies",
        action="store_true",
        help="draw every class with the same share of augmented copies, so that sounding processed is less of a "
        "cue for the classes that got more copies (--augment-fill); off by default: see the README",
    )
    train.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="bf16: bfloat16 autocast while training, about twice as fast on CPUs that have it natively; "
        "auto (default): bf16 on such CPUs (AMX, AVX512-BF16), fp32 elsewhere",
    )
    train.add_argument(
        "--val-fraction",
        type=float,
        default=0.15,
        metavar="F",
        help="share of each class's audio (windows) held out for validation, in whole works: never more, "
        "unless even the class's smallest work is (default: %(default)s)",
    )
    train.add_argument(
        "--test-fraction",
        type=float,
        default=0.15,
        metavar="F",
        help="share of each class's audio (windows) held out for the test, in whole works: never more, "
        "unless even the class's smallest work is (default: %(default)s)",
    )
    train.add_argument(
        "--rotate-validation",
        action="store_true",
        help="give each model its own validation works (drawn from those outside the test side, preferring "
        "works no earlier model validated on) and train it on the rest: the ensemble's models then train on "
        "different works, and together on all of them (default: every model validates on the same works)",
    )
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN")
    _add_ensemble_option(train)
    _add_feature_options(train)
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a trained run: every model, the ensemble and the baseline",
        description="Evaluate every model of RUN, their ensemble (as the run saved it: a plain average, or weights "
        "fitted on the validation split; --fit-ensemble fits them now and saves them as the run's) and a "
        "logistic-regression baseline, at window and recording level, on the run's test split or on another "
        "labelled dataset (recordings with labels the run does not know, or that the run trained or validated on, "
        "are reported and skipped). Writes "
        "metrics.json, predictions.csv (every model's answer and probabilities for each recording), plots/ and "
        "report.html.",
    )
    evaluate.add_argument("run", type=Path, metavar="RUN", help="run folder written by classicfy train")
    evaluate.add_argument("--data", metavar="DATA", help="labelled dataset to evaluate on (default: the test split)")
    evaluate.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write the results (default: RUN, or RUN/evaluation-<DATA> with --data)",
    )
    _add_ensemble_option(evaluate)
    _add_work_options(evaluate)
    evaluate.set_defaults(handler=cmd_evaluate)

    predict = commands.add_parser(
        "predict",
        help="classify new recordings with a trained run",
        description="Decode each recording, cut it into the run's windows, score them with the run's ensemble "
        "(or one model) and average in log space into one answer per recording.",
    )
    predict.add_argument("run", type=Path, metavar="RUN", help="run folder written by classicfy train")
    predict.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="recordings, or folders of recordings")
    predict.add_argument("--model", default="ensemble", help="ensemble (default) or the name of one trained model")
    _add_output_options(
        predict,
        3,
        ("table", "json", "csv"),
        "json: label, probabilities, top K and per-window segments; csv: one row per file",
    )
    predict.add_argument(
        "--timeline",
        type=Path,
        metavar="DIR",
        help="also write DIR/NAME.png per recording: each class's probability along its time axis",
    )
    _add_work_options(predict, cache=False)
    predict.set_defaults(handler=cmd_predict)

    export = commands.add_parser(
        "export",
        help="export a run's models to ONNX",
        description="Write OUT/NAME.onnx per neural model of the run (input `features`, any batch size; output "
        "`probabilities` over the run's labels) and OUT/NAME.json with its labels, input shape and feature config. "
        "Each export is checked against PyTorch (largest difference at most 1e-4). Features are computed in "
        "Python: classicfy.export.onnx_inputs(NAME.json, recording) gives a model's input for a recording.",
    )
    export.add_argument("run", type=Path, metavar="RUN", help="run folder written by classicfy train")
    export.add_argument("--format", choices=("onnx",), default="onnx", help="export format (default: %(default)s)")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the exported files")
    export.set_defaults(handler=cmd_export)

    tag = commands.add_parser(
        "tag",
        help="zero-shot tags from a pretrained music tagger",
        description="Tag recordings of any length and format with a pretrained musicnn model (MagnaTagATune: "
        "50 tags such as classical, strings, piano, harpsichord, choir, opera; Million Song Dataset: 50 genre "
        "and mood tags). The recording is resampled to 16 kHz and peak-normalised; tags are averaged over "
        "its 3-second patches.",
    )
    tag.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="recordings, or folders of recordings")
    tag.add_argument(
        "--model",
        default="musicnn-mtt",
        choices=("musicnn-mtt", "musicnn-msd", "vgg-mtt", "vgg-msd"),
        help="pretrained tagger (default: %(default)s)",
    )
    _add_output_options(tag, 5, ("table", "json"), "json: every tag's probability")
    tag.add_argument("--no-progress", action="store_true", help="hide progress bars")
    tag.set_defaults(handler=cmd_tag)

    demo = commands.add_parser(
        "demo",
        help="run the main job on the built-in classical corpus",
        description="Build the built-in corpus (music21 scores rendered to audio on piano, labelled by composer) "
        "on first use, then train the CNN, GRU, VGG and pretrained-VGG models on it (classes oversampled to 300 "
        "windows per composer per epoch; training recordings augmented with pitch shifts of up to 6 semitones, "
        "one copy each, whatever the composer), evaluate them, their ensemble and a "
        "baseline on the held-out works, print the summary and write RUN/report.html.",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("classicfy-demo"),
        metavar="RUN",
        help="run folder (default: %(default)s; an existing demo run is continued)",
    )
    demo.add_argument(
        "--models", default=",".join(DEMO_MODELS), metavar="A,B", help="models to train (default: %(default)s)"
    )
    demo.add_argument("--epochs", type=_positive_int, help="most epochs per model (default: 15, or 8 with --quick)")
    demo.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes instead of about half an hour: a small corpus (the shortest scores of each work, "
        "12 per composer, Beethoven's long quartets left out), 8 epochs of 100 windows per composer; for a first "
        "look, not for the figures",
    )
    _add_work_options(demo)
    demo.set_defaults(handler=cmd_demo)

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
    build.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        help="seed for piece sampling and mixed ensembles (default: %(default)s)",
    )
    _add_work_options(build, cache=False)
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
