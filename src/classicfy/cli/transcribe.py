"""`classicfy transcribe FILE... --out DIR`: notes from recordings, as MIDI files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from classicfy.cli.output import answer_each, each_file, unique_stem


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "transcribe",
        help="transcribe recordings to MIDI notes",
        description="Hear the notes of each recording with basic-pitch's note model (88 piano keys, 11.6 ms frames, "
        "run with onnxruntime) and write OUT/NAME.mid per recording; print its notes, pitch range and length.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="FILE", help="recordings, or folders of recordings")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the MIDI files")
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="table or json (default: %(default)s)"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="hide progress bars (hidden anyway when stderr is not a terminal)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write one MIDI file per recording and name each."""
    from classicfy.workspace import Workspace

    args.out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()

    def written(path: Path) -> dict[str, Any]:
        from classicfy.features.notes import transcribe

        transcription = transcribe(path)
        midi_path = args.out / f"{unique_stem(path, taken)}.mid"
        _write_midi(transcription.midi, midi_path)
        pitches = [pitch for _, _, pitch, _ in transcription.events]
        return {
            "path": str(path),
            "midi": str(midi_path),
            "notes": len(pitches),
            "lowest": min(pitches, default=None),
            "highest": max(pitches, default=None),
        }

    def line(result: dict[str, Any]) -> str:
        span = f", MIDI {result['lowest']}-{result['highest']}" if result["notes"] else ""
        return f"{result['path']}: {result['notes']} notes{span} -> {result['midi']}"

    progress = Workspace.create(progress=False if args.no_progress else None).progress
    return answer_each(each_file(args.paths, written, progress), line, args, "no recording could be transcribed", dict)


def _write_midi(midi: Any, path: Path) -> None:
    """A MIDI file written whole or not at all."""
    import io

    from classicfy import atomic

    buffer = io.BytesIO()
    midi.write(buffer)
    atomic.write_bytes(path, buffer.getvalue())
