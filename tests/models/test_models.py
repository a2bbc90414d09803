from __future__ import annotations

import pytest
import torch

from classicfy.models import MODELS
from classicfy.training.pipeline import train_run
from classicfy.workspace import Workspace
from helpers import config_for


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_maps_its_input_to_class_logits(name):
    family = MODELS[name]
    shape = {"mel": (1, 96, 87), "mel_chroma": (87, 108), "musicnn": (3, 187, 96), "notes": (2, 88, 172)}[
        family.input_kind
    ]
    model = family(shape, n_classes=5).eval()
    answers = 1 if family.answers_recordings else 3  # a recording model answers the three windows at once
    assert model(torch.randn(3, *shape)).shape == (answers, 5)


@pytest.mark.parametrize("name", sorted(set(MODELS) - {"notes-cnn", "notes-gru"}))  # below: they need more
@pytest.mark.slow
def test_each_model_learns_an_obvious_signal(data, tmp_path, name):
    result = train_run(config_for(data, (name,), epochs=6), tmp_path / "run", Workspace(tmp_path / "cache", 1, False))
    state = result.states[name]  # a recording model is fitted once: its history is its validation macro-F1
    best = max([row["val_accuracy"] for row in state.history] or [state.best_score])
    assert best >= 0.8, f"{name} reached only {best:.2f} validation accuracy (chance is 0.33)"


@pytest.fixture(scope="module")
def chords(tmp_path_factory):
    from classicfy.data.synthetic import write_chord_dataset

    root = tmp_path_factory.mktemp("chords")
    write_chord_dataset(root, works_per_label=6, recordings_per_work=2, seconds=6.0)
    return root


@pytest.mark.slow
def test_the_notes_gru_hears_registers(data, tmp_path):
    """The tone dataset's labels are registers, which the GRU's keys keep (transcribed on the way)."""
    result = train_run(
        config_for(data, ("notes-gru",), epochs=12), tmp_path / "run", Workspace(tmp_path / "c", 1, False)
    )
    best = max(row["val_accuracy"] for row in result.states["notes-gru"].history)
    assert best >= 0.8, f"notes-gru reached only {best:.2f} validation accuracy (chance is 0.33)"


@pytest.mark.slow
def test_the_notes_cnn_tells_chords_apart_in_any_key(chords, tmp_path):
    """Single notes, fifths and triads on random roots: only the intervals tell them apart."""
    work = Workspace(tmp_path / "cache", 1, False)
    result = train_run(config_for(chords, ("notes-cnn",), epochs=10), tmp_path / "run", work)
    best = max(row["val_accuracy"] for row in result.states["notes-cnn"].history)
    assert best >= 0.8, f"notes-cnn reached only {best:.2f} validation accuracy (chance is 0.33)"


def test_a_transposed_passage_moves_the_notes_cnns_activations_but_not_its_answer():
    import torch

    model = MODELS["notes-cnn"]((2, 88, 64), n_classes=3).eval()
    x = torch.zeros(1, 2, 88, 64)
    x[0, :, 40, 8:40] = 1.0  # a note and its fifth, held
    x[0, :, 47, 8:40] = 1.0
    shifted = torch.roll(x, shifts=5, dims=2)  # the same up a fourth
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(shifted), atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_a_run_of_notes_models_predicts_new_recordings_as_it_was_scored(chords, tmp_path, capsys):
    import json

    from classicfy.cli import main

    run = tmp_path / "run"
    args = [
        "train",
        str(chords),
        "--out",
        str(run),
        "--models",
        "notes-cnn",
        "--epochs",
        "2",
        "--window",
        "2",
        "--cache",
        str(tmp_path / "cache"),
        "--no-progress",
        "--augment-copies",
        "0",
    ]
    assert main(args) == 0
    card = json.loads((run / "models" / "notes-cnn.json").read_text())
    assert card["input_kind"] == "notes" and card["input_shape"] == [2, 88, 172]
    capsys.readouterr()
    recording = next((chords / "triad").rglob("*.flac"))
    assert main(["predict", str(run), str(recording), "--format", "json", "--jobs", "1", "--no-progress"]) == 0
    answer = json.loads(capsys.readouterr().out)[0]
    assert answer["label"] in {"single", "fifth", "triad"} and len(answer["segments"]) == 3
