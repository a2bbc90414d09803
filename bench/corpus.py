"""Corpus rendering speed: SoundFont synthesis against real time, on one core.

    python bench/corpus.py [--pieces 12] [--repeats 3]

Scores are parsed and exported to MIDI first (not timed: parsing is music21's cost, reported
separately); then each piece's synthesis (TinySoundFont, 22.05 kHz, piano timbre) is timed. The
real-time factor is seconds of audio rendered per second of wall time, median over repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from classicfy.config import BuildOptions
from classicfy.data.corpus import list_pieces
from classicfy.data.rendering import SAMPLE_RATE, default_soundfont, render_midi, score_to_midi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=12, help="pieces per composer family sampled")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "corpus.json")
    args = parser.parse_args()
    options = BuildOptions(composers=("bach", "monteverdi", "mozart", "palestrina"), max_pieces_per_composer=3)
    pieces = list_pieces(options)[: args.pieces]
    parse_s, midis = [], []
    for piece in pieces:
        start = time.perf_counter()
        midis.append(score_to_midi(piece.source, options)[0])
        parse_s.append(time.perf_counter() - start)
    soundfont = default_soundfont()
    with threadpool_limits(1):
        render_midi(midis[0], soundfont, (0,))  # warm-up
        factors, audio_s = [], 0.0
        for _ in range(args.repeats):
            wall, audio_s = 0.0, 0.0
            for data in midis:
                start = time.perf_counter()
                samples = render_midi(data, soundfont, (0,))
                wall += time.perf_counter() - start
                audio_s += len(samples) / SAMPLE_RATE
            factors.append(audio_s / wall)
    results = {
        "pieces": len(pieces),
        "audio_minutes": audio_s / 60,
        "synthesis_realtime_factor": statistics.median(factors),
        "parse_and_midi_s_per_piece": statistics.median(parse_s),
        "parse_realtime_factor": audio_s / sum(parse_s),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print("| measure | value |\n|---|---|")
    print(
        f"| synthesis, {len(pieces)} pieces, {audio_s / 60:.1f} min of audio, 1 core | "
        f"{results['synthesis_realtime_factor']:.0f}x real time |"
    )
    print(
        f"| music21 parse + MIDI export, median per piece | {results['parse_and_midi_s_per_piece']:.2f} s "
        f"({results['parse_realtime_factor']:.0f}x real time) |"
    )


if __name__ == "__main__":
    main()
