from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from classicfy.data.manifest import (
    Recording,
    content_hash,
    list_dataset,
    merge_duplicates,
    model_sides,
    split_by_group,
)
from classicfy.errors import DatasetError


def touch(path: Path, content: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def synthetic(n_labels: int, groups_per_label: int, per_group: int = 2) -> list[Recording]:
    return [
        Recording(Path(f"{label}/{g}/{i}.wav"), f"c{label}", f"c{label}/w{g}")
        for label in range(n_labels)
        for g in range(groups_per_label)
        for i in range(per_group)
    ]


def side_shares(recordings: list[Recording], sizes: dict[Path, float], label: str) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for r in recordings:
        if r.label == label:
            totals[r.split] += sizes[r.path]
    return {side: amount / sum(totals.values()) for side, amount in totals.items()}


def lumpy_mozart_and_even_c0() -> tuple[list[Recording], dict[Path, float]]:
    """The built-in corpus's Mozart, five works of 21.7, 20.8, 19.0, 8.3 and 0.4 minutes, and a
    class "c0" of 20 equal works, with each recording's size."""
    minutes = {"k458": 21.7, "k156": 20.8, "k80": 19.0, "k155": 8.3, "k545": 0.4}
    mozart = [Recording(Path(f"{work}.flac"), "mozart", work) for work in minutes]
    bach = synthetic(n_labels=1, groups_per_label=20, per_group=1)
    sizes = {r.path: minutes[r.group] for r in mozart} | {r.path: 1.0 for r in bach}
    return mozart + bach, sizes


def test_folder_groups_by_first_subfolder_else_by_file(tmp_path):
    touch(tmp_path / "bach" / "bwv1007" / "prelude.flac")
    touch(tmp_path / "bach" / "bwv1007" / "cd2" / "gigue.flac")
    touch(tmp_path / "bach" / "single.flac")
    touch(tmp_path / "bach" / ".hidden.flac")
    touch(tmp_path / ".trash" / "x.flac")
    touch(tmp_path / "loose.flac")
    recordings = list_dataset(tmp_path)
    groups = {r.path.name: r.group for r in recordings}
    assert groups == {"prelude.flac": "bach/bwv1007", "gigue.flac": "bach/bwv1007", "single.flac": "bach/single.flac"}
    assert {r.label for r in recordings} == {"bach"}


def test_csv_paths_are_relative_to_the_csv_and_group_defaults_to_the_file(tmp_path):
    csv = tmp_path / "set.csv"
    csv.write_text("path,label,group\naudio/a.wav,bach,bwv1\naudio/b.wav,bach,\n/abs/c.wav,mozart,k1\n")
    recordings = {r.path.name: r for r in list_dataset(csv)}
    assert recordings["a.wav"].path == tmp_path / "audio" / "a.wav"
    assert recordings["a.wav"].group == "bwv1"
    assert recordings["b.wav"].group == str(tmp_path / "audio" / "b.wav")
    assert recordings["c.wav"].path == Path("/abs/c.wav")


def test_a_csv_without_a_group_column_is_warned_about(tmp_path, caplog):
    csv = tmp_path / "set.csv"
    csv.write_text("path,label\nop18-1-i.wav,beethoven\nop18-1-ii.wav,beethoven\n")
    with caplog.at_level("WARNING", logger="classicfy"):
        list_dataset(csv)
    assert "has no 'group' column" in caplog.text
    caplog.clear()
    csv.write_text("path,label,group\nop18-1-i.wav,beethoven,op18-1\n")
    with caplog.at_level("WARNING", logger="classicfy"):
        list_dataset(csv)
    assert caplog.text == ""


def test_csv_rows_without_a_label_are_left_out(tmp_path):
    csv = tmp_path / "set.csv"
    csv.write_text("path,label\na.wav,bach\nb.wav,\n")
    assert [r.path.name for r in list_dataset(csv)] == ["a.wav"]


def test_a_folder_with_a_manifest_is_read_through_it(tmp_path):
    touch(tmp_path / "bach" / "a.flac")
    (tmp_path / "manifest.csv").write_text("path,label,group\nbach/a.flac,baroque,bwv1\n")
    [recording] = list_dataset(tmp_path)
    assert (recording.label, recording.group) == ("baroque", "bwv1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,label\na.wav,x\n", "columns 'path' and 'label'"),
        ("path,label,split\na.wav,x,holdout\n", "split must be one of"),
        ("path,label\n,x\n", "empty path"),
    ],
)
def test_bad_csv_is_a_dataset_error(tmp_path, text, message):
    csv = tmp_path / "set.csv"
    csv.write_text(text)
    with pytest.raises(DatasetError, match=message):
        list_dataset(csv)


def test_missing_or_empty_dataset_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        list_dataset(tmp_path / "nope")
    (tmp_path / "empty" / "label").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no recordings"):
        list_dataset(tmp_path / "empty")


@pytest.mark.parametrize("seed", range(5))
def test_split_never_puts_a_group_on_two_sides(seed):
    recordings = synthetic(n_labels=3, groups_per_label=7, per_group=3)
    sides = defaultdict(set)
    for r in split_by_group(recordings, 0.2, 0.2, seed):
        sides[r.group].add(r.split)
    assert all(len(s) == 1 for s in sides.values())


def test_split_is_stratified_and_follows_the_fractions():
    recordings = split_by_group(synthetic(n_labels=3, groups_per_label=10), 0.2, 0.3, seed=0)
    for label in ("c0", "c1", "c2"):
        groups = defaultdict(set)
        for r in recordings:
            if r.label == label:
                groups[r.split].add(r.group)
        assert {side: len(g) for side, g in groups.items()} == {"train": 5, "val": 2, "test": 3}


@pytest.mark.parametrize("seed", range(10))
def test_split_holds_out_each_class_by_its_share_of_audio_not_of_works(seed):
    # Dealt by count, the test side held Mozart's 21.7-minute work: 31% of the class, and training kept 42%.
    recordings, sizes = lumpy_mozart_and_even_c0()
    recordings = split_by_group(recordings, 0.15, 0.15, seed, sizes)
    shares = side_shares(recordings, sizes, "mozart")
    assert 0 < shares["test"] <= 0.15
    assert {r.group for r in recordings if r.split == "test" and r.label == "mozart"} == {"k155", "k545"}
    assert next(r.split for r in recordings if r.group == "k458") == "train"
    assert side_shares(recordings, sizes, "c0") == pytest.approx({"train": 0.7, "val": 0.15, "test": 0.15})


def test_a_side_whose_share_no_work_fits_gets_the_smallest_work():
    minutes = {"opus59": 136.0, "opus18": 104.0, "opus132": 30.0, "opus74": 25.0}
    recordings = [Recording(Path(f"{work}.flac"), "beethoven", work) for work in minutes]
    sizes = {r.path: minutes[r.group] for r in recordings}
    sides = {r.group: r.split for r in split_by_group(recordings, 0.05, 0.05, seed=0, sizes=sizes)}
    assert sides == {"opus74": "test", "opus132": "val", "opus18": "train", "opus59": "train"}
    two = recordings[:2]
    assert {r.split for r in split_by_group(two, 0.05, 0.05, seed=0, sizes=sizes)} == {"train", "test"}


@pytest.mark.parametrize("seed", range(10))
def test_rotated_validation_holds_out_every_work_outside_the_test_side_for_some_model(seed):
    recordings, sizes = lumpy_mozart_and_even_c0()
    shared = split_by_group(recordings, 0.15, 0.15, seed, sizes)
    rotated = split_by_group(recordings, 0.15, 0.15, seed, sizes, val_draws=4)
    # The test side does not move, and the first model validates on the shared split's works.
    assert [r.split == "test" for r in rotated] == [r.split == "test" for r in shared]
    assert {r.split for r in rotated} == {"train", "test"}
    assert [r.path for r in model_sides(rotated, 0)[1]] == [r.path for r in shared if r.split == "val"]
    for draw in range(4):
        train, val = model_sides(rotated, draw)
        assert {r.group for r in train}.isdisjoint(r.group for r in val)
        assert {r.label for r in val} == {"mozart", "c0"}
        assert sum(sizes[r.path] for r in val if r.label == "c0") == 3  # 15% of 20 equal works
    held_out = [{r.group for r in model_sides(rotated, draw)[1] if r.label == "mozart"} for draw in range(4)]
    assert set().union(*held_out) == {"k458", "k156", "k80"}  # each of Mozart's three, by some model
    bach_held_out = [{r.group for r in model_sides(rotated, draw)[1] if r.label == "c0"} for draw in range(4)]
    assert len(set().union(*bach_held_out)) == 12  # four draws of three works, none drawn twice


def test_a_given_split_is_not_rotated(caplog):
    recordings = [replace(r, split=side) for r, side in zip(synthetic(1, 3, 1), ("train", "val", "test"), strict=True)]
    with caplog.at_level(logging.WARNING):
        kept = split_by_group(recordings, val_draws=3)
    assert kept == recordings and "none rotates" in caplog.text
    assert [len(model_sides(kept, draw)[1]) for draw in range(3)] == [1, 1, 1]


def test_split_is_reproducible_by_seed():
    recordings = synthetic(n_labels=2, groups_per_label=10)
    first = split_by_group(recordings, 0.2, 0.2, seed=3)
    assert first == split_by_group(recordings, 0.2, 0.2, seed=3)
    assert first != split_by_group(recordings, 0.2, 0.2, seed=4)


def test_a_class_with_too_few_groups_is_warned_about(caplog):
    recordings = synthetic(n_labels=1, groups_per_label=2) + synthetic(n_labels=2, groups_per_label=6)[12:]
    with caplog.at_level(logging.WARNING):
        result = split_by_group(recordings, 0.2, 0.2, seed=0)
    assert "class 'c0' has only 2 group(s): none in val" in caplog.text
    assert {r.split for r in result if r.label == "c0"} == {"train", "test"}


def test_a_given_split_is_kept_and_checked():
    recordings = [Recording(Path("a"), "x", "g1", "train"), Recording(Path("b"), "x", "g2", "test")]
    assert split_by_group(recordings) == recordings
    leaking = [*recordings, Recording(Path("c"), "x", "g1", "test")]
    with pytest.raises(DatasetError, match="group 'g1' is on more than one side"):
        split_by_group(leaking)


def test_duplicates_share_a_group_and_conflicting_labels_are_an_error(tmp_path):
    a = touch(tmp_path / "a.wav", b"same")
    b = touch(tmp_path / "b.wav", b"same")
    c = touch(tmp_path / "c.wav", b"other")
    hashes = {p: content_hash(p) for p in (a, b, c)}
    recordings = [Recording(a, "x", "g1"), Recording(b, "x", "g2"), Recording(c, "x", "g3")]
    regrouped, duplicates = merge_duplicates(recordings, hashes)
    assert duplicates == [[a, b]]
    assert regrouped[0].group == regrouped[1].group == "g1"
    assert regrouped[2].group == "g3"
    conflicting = [Recording(a, "x", "g1"), Recording(b, "y", "g2")]
    with pytest.raises(DatasetError, match=r"a\.wav.*b\.wav"):
        merge_duplicates(conflicting, hashes)


def test_bad_fractions_are_refused():
    with pytest.raises(DatasetError, match="fractions"):
        split_by_group(synthetic(1, 3), 0.5, 0.5)


def test_chained_duplicates_end_in_one_group(tmp_path):
    """y (G1) = x (G2) and w (G2) = z (G3): all four must share a group, or z and w could straddle a split."""
    y, x = touch(tmp_path / "y.wav", b"one"), touch(tmp_path / "x.wav", b"one")
    w, z = touch(tmp_path / "w.wav", b"two"), touch(tmp_path / "z.wav", b"two")
    recordings = [Recording(y, "c", "G1"), Recording(x, "c", "G2"), Recording(w, "c", "G2"), Recording(z, "c", "G3")]
    regrouped, _ = merge_duplicates(recordings, {p: content_hash(p) for p in (y, x, w, z)})
    assert len({r.group for r in regrouped}) == 1


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path):
    csv = tmp_path / "excel.csv"
    csv.write_bytes("\ufeffpath,label\na.wav,bach\n".encode())
    assert [r.label for r in list_dataset(csv)] == ["bach"]


def test_a_binary_file_given_as_dataset_is_a_dataset_error(tmp_path):
    data = tmp_path / "recording.wav"
    data.write_bytes(b"RIFF" + bytes(range(128, 256)) * 8)
    with pytest.raises(DatasetError, match="not a readable CSV dataset"):
        list_dataset(data)


def with_renditions(recordings: list[Recording], n: int = 2) -> list[Recording]:
    return recordings + [
        replace(r, path=r.path.with_name(f"{r.path.stem}-rendition{k}.wav"), rendition_of=r.path)
        for r in recordings
        for k in range(1, n + 1)
    ]


@pytest.mark.parametrize("draws", [1, 3])
def test_renditions_train_beside_their_recordings_and_never_validate_or_test(draws):
    originals = synthetic(n_labels=3, groups_per_label=8)
    plain = split_by_group(originals, 0.15, 0.15, seed=4, val_draws=draws)
    varied = split_by_group(with_renditions(originals), 0.15, 0.15, seed=4, val_draws=draws)
    assert varied[: len(plain)] == plain  # renditions change nothing of how originals are dealt
    side = {r.path: r for r in plain}
    renditions = varied[len(plain) :]
    assert renditions and all(side[r.rendition_of].split == "train" for r in renditions)
    assert {r.rendition_of for r in renditions} == {r.path for r in plain if r.split == "train"}
    for draw in range(draws):
        train, val = model_sides(varied, draw)
        assert all(r.rendition_of is None for r in val)
        trained = {r.path for r in train}
        assert all(r.rendition_of in trained for r in train if r.rendition_of)  # not beside a validating one


def test_folds_deal_originals_and_test_no_rendition():
    from classicfy.data.folds import fold_splits

    originals = synthetic(n_labels=2, groups_per_label=6)
    plain = fold_splits(originals, {r.path: 1 for r in originals}, 3, 0.15, fold_seed=0)
    varied = fold_splits(with_renditions(originals), {r.path: 1 for r in originals}, 3, 0.15, fold_seed=0)
    for before, after in zip(plain, varied, strict=True):
        assert [r for r in after if r.rendition_of is None] == before
        assert all(r.split == "train" for r in after if r.rendition_of)


def test_a_rendition_of_a_recording_the_csv_lacks_is_a_dataset_error(tmp_path):
    (tmp_path / "d.csv").write_text("path,label,group,rendition_of\na.wav,x,w,\nb.wav,x,w,a.wav\nc.wav,x,v,z.wav\n")
    with pytest.raises(DatasetError, match=r"c\.wav is a rendition of z\.wav"):
        list_dataset(tmp_path / "d.csv")
    (tmp_path / "d.csv").write_text("path,label,group,rendition_of\na.wav,x,w,\nb.wav,x,w,a.wav\n")
    assert [r.rendition_of for r in list_dataset(tmp_path / "d.csv")] == [None, tmp_path / "a.wav"]


def test_symlinks_are_followed_everywhere_loops_cut_and_each_file_listed_once(tmp_path, caplog):
    """Issue 23, defect 8: a symlinked work folder was dropped without a word (a whole label vanished)."""
    elsewhere = tmp_path / "elsewhere"
    touch(elsewhere / "quartet" / "1.wav")
    touch(elsewhere / "sonatas" / "1.wav")
    data = tmp_path / "data"
    touch(data / "haydn" / "op1" / "1.wav")
    (data / "haydn" / "quartet").symlink_to(elsewhere / "quartet")  # a linked work folder
    (data / "mozart").symlink_to(elsewhere / "sonatas")  # a linked label folder
    (data / "haydn" / "op1" / "loop").symlink_to(data / "haydn")  # a loop
    (data / "haydn" / "op1" / "gone.wav").symlink_to(tmp_path / "nowhere.wav")  # a broken link
    (data / "haydn" / "op1" / "again.wav").symlink_to(data / "haydn" / "op1" / "1.wav")  # the same file twice
    with caplog.at_level(logging.WARNING):
        recordings = list_dataset(data)
    assert sorted((r.label, r.group) for r in recordings) == [
        ("haydn", "haydn/op1"),
        ("haydn", "haydn/quartet"),
        ("mozart", "mozart/1.wav"),
    ]
    warned = caplog.text
    assert "loop: a link back into a folder already listed" in warned
    assert "gone.wav: a broken link" in warned and "again.wav: the same file as" in warned


def test_predict_lists_a_folder_as_a_dataset_is_listed(tmp_path):
    from classicfy.features.audio import audio_files

    touch(tmp_path / "elsewhere" / "a.flac")
    touch(tmp_path / "in" / "b.flac")
    (tmp_path / "in" / "linked").symlink_to(tmp_path / "elsewhere")
    assert [p.name for p in audio_files([tmp_path / "in"])] == ["b.flac", "a.flac"]
