"""Option groups and validators that several commands share; defaults come from `classicfy.config`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from classicfy.config import AudioConfig, FeatureConfig
from classicfy.errors import ClassicfyError
from classicfy.workspace import DEVICE_HELP, Workspace, default_jobs


def int_at_least(minimum: int) -> Callable[[str], int]:
    def integer(text: str) -> int:  # argparse names the type by this name: "invalid integer value"
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return integer


positive_int = int_at_least(1)


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def split_names(text: str) -> tuple[str, ...]:
    """`a, b,,c` -> ("a", "b", "c")."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def add_logging_options(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """-v and -q, accepted before the command name and after it (where they must not reset the first)."""
    default = False if top else argparse.SUPPRESS
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="log debugging detail")
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="log warnings and errors only")


def add_work_options(parser: argparse.ArgumentParser, cache: bool = True) -> None:
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
        type=jobs_count,
        default=default_jobs(),
        metavar="N",
        help="worker processes; -1: all the CPUs this process may use (default: all of them, %(default)s here)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="hide progress bars (hidden anyway when stderr is not a terminal)"
    )


def jobs_count(text: str) -> int:
    """A worker count: a positive number, or -1 for every CPU this process may use."""
    value = int(text)
    if value == -1:
        return default_jobs()
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, or -1 for every CPU, got {value}")
    return value


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """--device, for the commands that run models."""
    parser.add_argument("--device", default="auto", metavar="DEVICE", help=f"where models run: {DEVICE_HELP}")


def cluster_address(text: str) -> str:
    if text == "dask" or "://" in text:
        return text
    raise argparse.ArgumentTypeError(
        f"must be dask (a local cluster) or a scheduler's address, tcp://HOST:PORT; got {text!r}"
    )


def add_cluster_option(parser: argparse.ArgumentParser) -> None:
    """--cluster, for the commands that extract features."""
    parser.add_argument(
        "--cluster",
        type=cluster_address,
        metavar="ADDRESS",
        help="extract features on Dask: 'dask' starts a local cluster of --jobs workers; tcp://HOST:PORT uses a "
        "running scheduler whose workers see the same --cache folder (default: worker processes on this machine)",
    )


def workspace(args: argparse.Namespace) -> Workspace:
    """The cache folder, worker count, device, cluster and progress display a command's options ask for."""
    progress = False if args.no_progress else None
    device, cluster = getattr(args, "device", "auto"), getattr(args, "cluster", None)
    return Workspace.create(getattr(args, "cache", None), args.jobs, progress, device, cluster)


def add_output_options(parser: argparse.ArgumentParser, top: int, formats: tuple[str, ...], json_help: str) -> None:
    parser.add_argument(
        "--top-k",
        "--top",
        dest="top_k",
        type=positive_int,
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


def add_ensemble_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fit-ensemble",
        action="store_true",
        help="weight the ensemble's members by fitting on the validation split (default: models that "
        "answer whole recordings weigh as much as the window models, each kind averaged plainly; steadier when "
        "the validation split holds few works)",
    )


def add_feature_options(parser: argparse.ArgumentParser) -> None:
    add_work_options(parser)
    add_cluster_option(parser)
    parser.add_argument(
        "--sr",
        type=positive_int,
        default=AudioConfig.sample_rate,
        metavar="HZ",
        help="sample rate audio is resampled to (default: %(default)s)",
    )
    parser.add_argument(
        "--window",
        type=positive_float,
        default=AudioConfig.window_s,
        metavar="S",
        help="window length in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--hop",
        type=positive_float,
        metavar="S",
        help="seconds between window starts (default: the window length, no overlap)",
    )


def feature_config(args: argparse.Namespace) -> FeatureConfig:
    try:
        audio = AudioConfig(sample_rate=args.sr, window_s=args.window, hop_s=args.hop or args.window)
    except ValueError as error:
        raise ClassicfyError(str(error)) from None
    return FeatureConfig(audio=audio)


def overlap_seconds(text: str) -> float:
    """A patch overlap in seconds, checked against the patch length."""
    from classicfy.features.spectral import musicnn_hop_frames

    try:
        seconds = float(text)
        musicnn_hop_frames(seconds)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error) if "overlap" in str(error) else f"not a number: {text!r}") from None
    return seconds


def add_overlap_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overlap",
        type=overlap_seconds,
        default=0.0,
        metavar="SECONDS",
        help="overlap of the tagger's 3-second patches, as musicnn's input_overlap (default: %(default)s: side "
        "by side)",
    )
