"""The README's and docs' cross-validation tables, made from kept results (docs/results/*/summary.json).

    python bench/results_table.py docs/results/NAME [docs/results/OTHER ...]

One Markdown table per folder: each model's pooled macro-F1 per window and per recording in every
run (fold seed, seed), and their mean. Tables in the docs are pasted from this output, never typed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def table(summary: dict) -> str:
    runs = summary["runs"]
    names = [f"s{r['seed']}" + (f"/f{r['fold_seed']}" if len({x["fold_seed"] for x in runs}) > 1 else "") for r in runs]
    plan = summary["plan"]
    lines = [
        f"{plan['data']}, {plan['folds']} folds grouped by work, runs {', '.join(names)} "
        "(pooled macro-F1; mean over runs in bold)",
        "",
        "| model | per window | mean | per recording | mean |",
        "|---|---|---:|---|---:|",
    ]
    for model, levels in summary["models"].items():
        cells = []
        for level in ("segment", "recording"):
            if levels[level] is None:  # a model that answers whole recordings has no window figures
                cells += ["-", "-"]
                continue
            per_run = " / ".join(f"{run['models'][model][level]['macro_f1']:.3f}" for run in runs)
            cells += [per_run, f"**{levels[level]['macro_f1']['mean']:.3f}**"]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *_ensemble_on_top(summary, names)])


def _ensemble_on_top(summary: dict, names: list[str]) -> list[str]:
    """Issue 22's test, per run and level: is the ensemble above every single model and the baseline?"""
    lines = []
    for level, shown in (("segment", "per window"), ("recording", "per recording")):
        verdicts = []
        for name, run in zip(names, summary["runs"], strict=True):
            scores = {model: figures[level]["macro_f1"] for model, figures in run["models"].items() if figures[level]}
            ensemble = scores.pop("ensemble", None)
            best, best_score = max(scores.items(), key=lambda item: item[1])
            above = ensemble is not None and ensemble > best_score
            verdicts.append(f"{name} {'yes' if above else f'no ({best} {best_score:.3f})'}")
        lines.append(f"Ensemble above every other model {shown}: {', '.join(verdicts)}.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+", help="kept results, each with a summary.json")
    args = parser.parse_args()
    for folder in args.folders:
        print(f"### {folder}\n\n{table(json.loads((folder / 'summary.json').read_text()))}\n")


if __name__ == "__main__":
    main()
