"""List a labelled dataset, group its recordings by work and split it with no group on two sides.

A dataset is a folder `DATA/<label>/**/<file>` or a CSV with columns `path,label` and optional
`group,split`. Windows of one work must never be on both sides of a split, or a model is scored on
music it has heard; grouping is what prevents that.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from classicfy.data.walk import files_under
from classicfy.errors import DatasetError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
MANIFEST_NAME = "manifest.csv"


@dataclass(frozen=True)
class Recording:
    """One file of a dataset: its label, the work (group) it belongs to and, once split, its side.

    With rotated validation, a "train" recording validates the models whose draw numbers (their
    places in the run's model list) are in `val_draws`, and trains the others. A rendition (another
    rendering of the recording at `rendition_of`, as the built-in corpus's varied build makes) only
    ever trains, and only where its recording trains: models are validated and tested on originals.
    """

    path: Path
    label: str
    group: str
    split: str | None = None
    val_draws: tuple[int, ...] = ()
    rendition_of: Path | None = None


def content_hash(path: str | Path) -> str:
    """BLAKE2b digest of a file's bytes: the identity of its audio for caching and duplicates."""
    return file_digest(path, hashlib.blake2b(digest_size=16))


def file_digest(path: str | Path, digest: Any) -> str:
    """`digest` (a hashlib object) of a file's bytes, read a megabyte at a time."""
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def list_dataset(source: str | Path) -> list[Recording]:
    """Recordings of a label-folder tree or a CSV, sorted by path.

    A folder holding a `manifest.csv` (as `classicfy corpus build` writes) is read through it, so
    its work groups are kept.
    """
    source = Path(source)
    if not source.exists():
        raise DatasetError(f"dataset not found: {source}")
    if source.is_dir() and (source / MANIFEST_NAME).is_file():
        source = source / MANIFEST_NAME
    recordings = read_csv(source) if source.is_file() else list_folder(source)
    if not recordings:
        raise DatasetError(f"no recordings found in {source} (expected DATA/<label>/<file> or a CSV)")
    return sorted(recordings, key=lambda r: str(r.path))


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def list_folder(root: str | Path) -> list[Recording]:
    """`root/<label>/**/<file>`; a file's group is its first sub-folder under the label, else itself."""
    root = Path(root)
    recordings = []
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and _visible(p, root)):
        for path in files_under(label_dir):  # links followed, like a label folder that is one
            if not _visible(path, root):
                continue
            below_label = path.relative_to(label_dir).parts
            group = below_label[0] if len(below_label) > 1 else path.name
            recordings.append(Recording(path, label_dir.name, f"{label_dir.name}/{group}"))
    loose = [p.name for p in root.iterdir() if p.is_file() and _visible(p, root)]
    if loose:
        log.warning("ignored %d file(s) outside label folders in %s: %s", len(loose), root, ", ".join(loose[:5]))
    return recordings


def read_csv(path: str | Path) -> list[Recording]:
    """A CSV with `path,label[,group][,split][,rendition_of]`; relative paths are relative to the CSV's
    folder. Rows with an empty label are not part of the dataset and are left out. A row whose
    `rendition_of` names another row is a rendition of that recording, of its label and group.
    """
    path = Path(path)
    try:
        return _read_csv_rows(path)
    except (UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"{path} is not a readable CSV dataset ({type(error).__name__})") from None


def _read_csv_rows(path: Path) -> list[Recording]:
    with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: spreadsheets write a BOM
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if not {"path", "label"} <= columns:
            raise DatasetError(f"{path}: a dataset CSV needs columns 'path' and 'label', found {sorted(columns)}")
        if "group" not in columns:
            log.warning("%s has no 'group' column: each file counts as its own work, so the movements of one "
                        "work may fall on both sides of the split", path)  # fmt: skip
        recordings = []
        for line, row in enumerate(reader, start=2):
            if not row["path"]:
                raise DatasetError(f"{path}:{line}: empty path")
            if not (row["label"] or "").strip():
                continue  # a catalogue row that is not part of this labelling (see corpus.py)
            file = Path(row["path"])
            file = file if file.is_absolute() else path.parent / file
            split = (row.get("split") or "").strip() or None
            if split is not None and split not in SPLITS:
                raise DatasetError(f"{path}:{line}: split must be one of {', '.join(SPLITS)}, got {split!r}")
            group = (row.get("group") or "").strip() or str(file)
            original = (row.get("rendition_of") or "").strip()
            of = None if not original else Path(original) if Path(original).is_absolute() else path.parent / original
            recordings.append(Recording(file, row["label"].strip(), group, split, rendition_of=of))
    _check_renditions(path, recordings)
    return recordings


def _check_renditions(path: Path, recordings: list[Recording]) -> None:
    """Every rendition names a recording of the dataset, of its own label and group."""
    by_path = {r.path: r for r in recordings if r.rendition_of is None}
    for r in recordings:
        if r.rendition_of is None:
            continue
        original = by_path.get(r.rendition_of)
        if original is None or (original.label, original.group) != (r.label, r.group):
            raise DatasetError(
                f"{path}: {r.path.name} is a rendition of {r.rendition_of.name}, which is not a recording of "
                f"its label and group in this dataset"
            )


def originals_and_renditions(recordings: list[Recording]) -> tuple[list[Recording], list[Recording]]:
    return [r for r in recordings if r.rendition_of is None], [r for r in recordings if r.rendition_of is not None]


def renditions_beside(renditions: list[Recording], split: list[Recording]) -> list[Recording]:
    """Each rendition beside its recording when that trains (with the same validation draws, so it
    never trains a model its recording validates); dropped beside a recording that validates or tests."""
    sides = {r.path: r for r in split}
    kept = []
    for rendition in renditions:
        original = sides.get(rendition.rendition_of)  # type: ignore[arg-type]
        if original is not None and original.split == "train":
            kept.append(replace(rendition, split="train", val_draws=original.val_draws))
    return kept


def merge_duplicates(recordings: list[Recording], hashes: dict[Path, str]) -> tuple[list[Recording], list[list[Path]]]:
    """Put recordings with the same content into one group, so copies never straddle a split.

    Returns the regrouped recordings and the sets of duplicate paths (for the report). The same
    content under two labels cannot be right, and is an error naming both files.
    """
    by_hash: dict[str, list[Recording]] = defaultdict(list)
    for recording in recordings:
        if recording.path in hashes:
            by_hash[hashes[recording.path]].append(recording)
    # Union-find over groups: copies chain groups together (A~B in one pair, B~C in another).
    parent: dict[str, str] = {}

    def root(group: str) -> str:
        while parent.get(group, group) != group:
            group = parent[group]
        return group

    duplicates = []
    for copies in by_hash.values():
        if len(copies) < 2:
            continue
        labels = {c.label for c in copies}
        if len(labels) > 1:
            first, other = copies[0], next(c for c in copies if c.label != copies[0].label)
            raise DatasetError(
                f"the same audio is labelled '{first.label}' in {first.path} and '{other.label}' in {other.path}"
            )
        duplicates.append([c.path for c in copies])
        for copy in copies[1:]:
            a, b = sorted((root(copies[0].group), root(copy.group)))
            if a != b:
                parent[b] = a
    regrouped = [replace(r, group=root(r.group)) for r in recordings]
    return regrouped, duplicates


def _deal_sides(groups: list[str], size: dict[str, float], val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Deal one class's groups (in the given, shuffled order) to test, then val, then train.

    A held-out side takes each group that still fits under its share of the class's audio, so it never
    holds more than its share and training never less. Works are lumpy: a class whose every work is
    bigger than a side's share still gives that side its smallest work (test first), as long as
    training keeps at least one.
    """
    total = sum(size[g] for g in groups)
    side_of: dict[str, str] = {}
    for side, fraction in (("test", test_fraction), ("val", val_fraction)):
        if fraction <= 0:
            continue
        target = fraction * total * (1 + 1e-9)
        taken = 0.0
        for group in groups:
            if group not in side_of and taken + size[group] <= target:
                side_of[group] = side
                taken += size[group]
        left = [g for g in groups if g not in side_of]
        if taken == 0 and len(left) >= 2:
            side_of[min(left, key=lambda g: size[g])] = side
    return {g: side_of.get(g, "train") for g in groups}


def split_by_group(
    recordings: list[Recording],
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    sizes: Mapping[Path, float] | None = None,
    val_draws: int = 1,
) -> list[Recording]:
    """Assign train/val/test, stratified by label and grouped by work.

    Each label's groups are shuffled (seeded) and dealt out so that val and test each hold up to their
    fraction of the label's audio: `sizes` says how much each recording holds (its windows, say);
    without it every recording counts as one. Works are lumpy, and dealt by count they once held out
    31% of a composer's audio. Every class is on every side when it has enough groups; a class
    without enough gets a warning. A group whose recordings carry several labels goes with its most
    common label. Splits already given (in a CSV) are kept, and must not put one group on two sides.

    With `val_draws` above 1, validation is drawn that many times from the works outside the test
    side (see `_rotate_validation`): the works of every draw are "train", each marked with its draws.
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DatasetError(f"split fractions must leave room for training: val={val_fraction}, test={test_fraction}")
    recordings, renditions = originals_and_renditions(recordings)
    split = _split_originals(recordings, val_fraction, test_fraction, seed, sizes, val_draws)
    return split + renditions_beside(renditions, split)


def _split_originals(
    recordings: list[Recording],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    sizes: Mapping[Path, float] | None,
    val_draws: int,
) -> list[Recording]:
    given = [r for r in recordings if r.split]
    if given:
        if len(given) != len(recordings):
            raise DatasetError("the dataset gives a split for some recordings but not all")
        _check_given_split(recordings)
        if val_draws > 1:
            log.warning("the dataset gives its split: every model validates on its 'val' side, none rotates")
        return list(recordings)

    members: dict[str, list[Recording]] = defaultdict(list)
    for recording in recordings:
        members[recording.group].append(recording)
    size = {group: sum(sizes[r.path] if sizes else 1.0 for r in items) for group, items in members.items()}
    groups_of_label: dict[str, list[str]] = defaultdict(list)
    for group, items in sorted(members.items()):
        label = Counter(r.label for r in items).most_common(1)[0][0]
        groups_of_label[label].append(group)

    rng = np.random.default_rng(seed)
    rotation_rng = np.random.default_rng([seed, 1])  # its own stream: the test side does not depend on draws
    side_of_group: dict[str, str] = {}
    draws_of_group: dict[str, tuple[int, ...]] = {}
    for label, groups in sorted(groups_of_label.items()):
        order = [groups[i] for i in rng.permutation(len(groups))]
        dealt = _deal_sides(order, size, val_fraction, test_fraction)
        missing = [s for s, f in (("val", val_fraction), ("test", test_fraction)) if f > 0 and s not in dealt.values()]
        if missing:
            log.warning("class '%s' has only %d group(s): none in %s", label, len(groups), " or ".join(missing))
        if val_draws > 1:
            first = [g for g in order if dealt[g] == "val"]
            dev = [g for g in order if dealt[g] != "test"]
            target = val_fraction * sum(size[g] for g in groups)
            draws_of_group.update(_rotate_validation(first, dev, size, target, val_draws, rotation_rng))
            dealt = {g: "train" if side == "val" else side for g, side in dealt.items()}
        side_of_group.update(dealt)
    return [replace(r, split=side_of_group[r.group], val_draws=draws_of_group.get(r.group, ())) for r in recordings]


def _rotate_validation(
    first: list[str], dev: list[str], size: dict[str, float], target: float, draws: int, rng: np.random.Generator
) -> dict[str, tuple[int, ...]]:
    """Each of one class's validation draws: the groups of draw 0 are `first` (the shared split's
    validation side); each later draw takes, in a shuffled order that puts groups no earlier draw
    took first, every group that fits under `target`; if none fits, the smallest group no earlier
    draw took (or the smallest of all, once every group has been taken).

    Models that validate on different works train on different works, and together on all of them:
    the built-in corpus's Mozart has three works outside the test side, each bigger than the target,
    and four draws hold out each of them at least once.
    """
    taken_by = [first]
    used = set(first)
    for _ in range(1, draws):
        shuffled = [dev[i] for i in rng.permutation(len(dev))]
        order = [g for g in shuffled if g not in used] + [g for g in shuffled if g in used]
        taken, held = [], 0.0
        for group in order:
            if held + size[group] <= target * (1 + 1e-9):
                taken.append(group)
                held += size[group]
        if not taken and len(dev) >= 2:
            fresh = [g for g in dev if g not in used]
            taken = [min(fresh or dev, key=lambda g: size[g])]
        taken_by.append(taken)
        used.update(taken)
    return {g: tuple(k for k, taken in enumerate(taken_by) if g in taken) for g in dev}


def model_sides(recordings: list[Recording], draw: int) -> tuple[list[Recording], list[Recording]]:
    """The training and validation recordings of the run's model number `draw`."""
    train = [r for r in recordings if r.split == "train" and draw not in r.val_draws]
    validating = [r for r in recordings if r.split == "val" or (r.split == "train" and draw in r.val_draws)]
    val = [r for r in validating if r.rendition_of is None]  # a rendition only ever trains
    return train, val


def _check_given_split(recordings: list[Recording]) -> None:
    sides: dict[str, set[str]] = defaultdict(set)
    for recording in recordings:
        sides[recording.group].add(recording.split or "")
    leaking = sorted(g for g, s in sides.items() if len(s) > 1)
    if leaking:
        raise DatasetError(
            f"group '{leaking[0]}' is on more than one side of the given split ({len(leaking)} such groups)"
        )
