"""What commands print: the results table, and answers per file as they come."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from classicfy.errors import AudioError, ClassicfyError

if TYPE_CHECKING:
    from classicfy.evaluation.pipeline import Evaluation

T = TypeVar("T")
SHORT_HEADER = ["model", "win acc", "win F1", "rec acc [95% CI]", "rec bal acc", "rec F1 [95% CI]",
                  "rec AUC", "rec logloss", "win/rec"]  # fmt: skip


def print_evaluation(evaluation: Evaluation) -> None:
    """The results table, one row per model, then the notes and where the report is."""
    from classicfy.evaluation.report import summary_rows

    rows = [SHORT_HEADER, *summary_rows(evaluation.metrics)]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    print(f"\n{evaluation.scored_on}:")
    for row in rows:
        print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    for note in evaluation.notes:
        print(f"  {note}")
    print(f"report: {evaluation.out_dir / 'report.html'}  metrics: {evaluation.out_dir / 'metrics.json'}")


def each_file(paths: Iterable[Path], answer: Callable[[Path], T], progress: bool) -> Iterator[T | AudioError]:
    """`answer(path)` for every file (folders expanded), or the `AudioError` it raised."""
    from tqdm import tqdm

    from classicfy.features.audio import audio_files

    for path in tqdm(list(audio_files(list(paths))), unit="file", disable=not progress, leave=False):
        try:
            yield answer(path)
        except AudioError as error:
            yield error


def answer_each(
    results: Iterable[Any],
    table_line: Callable[[Any], str],
    args: argparse.Namespace,
    nothing: str,
    json_of: Callable[[Any], Any],
    csv_row: Callable[[Any], tuple[list[str], list[Any]]] | None = None,
) -> int:
    """Print each answer (a table line or a CSV row as it comes, or one JSON list at the end).

    A file that cannot be used arrives as its `AudioError`: it is named on stderr and skipped; no
    usable file at all is an error (exit code 2).
    """
    import csv
    import json

    answers, skipped = [], 0
    writer = csv.writer(sys.stdout) if args.format == "csv" else None
    for result in results:
        if isinstance(result, AudioError):
            print(f"classicfy: skipped {result}", file=sys.stderr)
            skipped += 1
            continue
        answers.append(result)
        if args.format == "table":
            print(table_line(result), flush=True)
        elif writer is not None and csv_row is not None:
            header, row = csv_row(result)
            if len(answers) == 1:
                writer.writerow(header)
            writer.writerow(row)
    if args.format == "json":
        print(json.dumps([json_of(r) for r in answers], indent=2, allow_nan=False))  # strict JSON
    if not answers:
        raise ClassicfyError(nothing)
    if skipped:
        print(f"classicfy: {len(answers)} answered, {skipped} skipped", file=sys.stderr)
    return 0


def unique_stem(path: str | Path, taken: set[str]) -> str:
    """`path`'s stem, or `stem-2`, `stem-3`... when files of the same name came before (recorded in `taken`)."""
    path = Path(path)
    name, n = path.stem, 1
    while name in taken:
        n += 1
        name = f"{path.stem}-{n}"
    taken.add(name)
    return name
