#!/usr/bin/env bash
# Run every benchmark, one after another (they share the cores), and write docs/benchmarks.md:
# the machine first, then each script's command and the Markdown table it prints.
# Usage: bench/run_all.sh [--quick]   (--quick: smaller inputs and fewer repeats, for a smoke check)
# The full run takes about 235 minutes, most of it the demo recipe's 4-fold cross-validation, run
# with three seeds to show how far the models' own randomness moves it (`classicfy crossval`); the
# augmentation-shortcut probe then reads the first fold's run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--quick" ]]; then
    commands=(
        "python bench/features.py --minutes 4 --repeats 1"
        "python bench/corpus.py --pieces 2 --repeats 1"
        "python bench/train.py --epochs 1"
        "python bench/tag.py --minutes 1 --repeats 1"
        "python bench/predict.py --minutes 2 --repeats 1"
        "classicfy crossval builtin:composers-quick --config demo-quick --folds 2 --seeds 0,1 --out bench/out/crossval-quick --resume --no-progress"
        "python bench/shortcut.py bench/out/crossval-quick/fold-seed-0/seed-0/fold-1 --models ensemble"
    )
else
    commands=(
        "python bench/features.py --repeats 5"
        "python bench/corpus.py"
        "python bench/train.py"
        "python bench/tag.py"
        "python bench/predict.py"
        "classicfy crossval builtin:composers --config demo --folds 4 --seeds 0,1,2 --out bench/out/crossval --resume --no-progress"
        "python bench/shortcut.py bench/out/crossval/fold-seed-0/seed-0/fold-1 --models ensemble,vgg-pretrained"
    )
fi

report=$(mktemp)
trap 'rm -f "$report"' EXIT
{
    echo "# Benchmarks"
    echo
    echo "Written by \`bench/run_all.sh\` on $(date -u +%Y-%m-%d). Each script prints medians of several runs"
    echo "and writes its JSON to \`bench/out/\`."
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
    echo "$(free -g | awk '/Mem:/{print $2}') GiB RAM, no GPU; $(uname -sr);"
    echo "$(python -c 'import platform, torch, numpy, librosa; print(f"Python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}, librosa {librosa.__version__}")')."
} >"$report"
for command in "${commands[@]}"; do
    echo "running: $command" >&2
    start=$(date +%s)
    table=$($command)
    {
        echo
        echo "## \`$command\`"
        echo
        if [[ "$command" == classicfy* ]]; then echo '```text'; echo "$table"; echo '```'; else echo "$table"; fi
        echo
        echo "($(($(date +%s) - start)) s)"
    } >>"$report"
done
mkdir -p docs
cp "$report" docs/benchmarks.md
echo "wrote docs/benchmarks.md" >&2
