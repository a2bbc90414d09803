from __future__ import annotations

import json
import logging
from dataclasses import asdict

import pytest
import torch

from classicfy.cli import main
from classicfy.models.musicnn import load_pretrained
from classicfy.models.pretrained import MusicnnPretrained, PretrainedConfig, VGGPretrained
from classicfy.models.trained import load_model
from classicfy.rundir import MODEL_FORMAT, load_tensors, save_tensors


@pytest.mark.slow
def test_vgg_pretrained_trains_as_the_acceptance_says(data, tmp_path, monkeypatch, caplog):
    """`classicfy train DATA --out RUN --models vgg-pretrained --epochs 2` exits 0, frozen backbone intact."""
    monkeypatch.setenv("CLASSICFY_CACHE", str(tmp_path / "cache"))
    caplog.set_level(logging.INFO, logger="classicfy")
    run = tmp_path / "RUN"
    assert main(["train", str(data), "--out", str(run), "--models", "vgg-pretrained", "--epochs", "2"]) == 0
    described = json.loads((run / "models" / "vgg-pretrained.json").read_text())
    assert described["input_kind"] == "musicnn" and described["features"]["audio"]["sample_rate"] == 16000
    assert described["config"]["backbone"] == "vgg-mtt" and described["config"]["finetune"] is False
    weights, _ = load_tensors(run / "models" / "vgg-pretrained.safetensors")
    pretrained = load_pretrained("vgg-mtt").state_dict()
    for name, value in pretrained.items():
        torch.testing.assert_close(weights[f"backbone.{name}"], value, rtol=0, atol=0)
    # The head trains on the original windows (one per 6 s recording) and the default one augmented copy of each.
    n_train = (run / "split.csv").read_text().count(",train\n")
    assert f"vgg-pretrained: {2 * n_train} training windows" in caplog.text


@pytest.mark.slow
def test_a_frozen_head_embeds_twice_the_per_epoch_cap_of_each_class(data, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CLASSICFY_CACHE", str(tmp_path / "cache"))
    caplog.set_level(logging.INFO, logger="classicfy")
    args = ["train", str(data), "--out", str(tmp_path / "RUN"), "--models", "vgg-pretrained", "--epochs", "1"]
    assert main([*args, "--max-windows-per-class", "3"]) == 0
    assert (
        "vgg-pretrained: 18 training windows" in caplog.text
    )  # 3 classes of 8 windows (4 recordings + 4 copies): 6 of each


def test_finetuning_trains_the_backbone_at_a_lower_rate():
    model = MusicnnPretrained((3, 187, 96), 4, PretrainedConfig(backbone="musicnn-mtt", finetune=True))
    groups = model.parameter_groups(1e-3)
    assert [g["lr"] for g in groups] == [1e-3, 1e-4]
    assert all(p.requires_grad for p in model.backbone.parameters())
    frozen = VGGPretrained((3, 187, 96), 4)
    assert len(frozen.parameter_groups(1e-3)) == 1
    assert not any(p.requires_grad for p in frozen.backbone.parameters())


def test_the_backbone_keeps_its_batch_norm_statistics_in_training_mode():
    model = VGGPretrained((3, 187, 96), 2, PretrainedConfig(finetune=True)).train()
    before = model.backbone.bns[0].running_mean.clone()
    model(torch.randn(4, 3, 187, 96)).sum().backward()
    torch.testing.assert_close(model.backbone.bns[0].running_mean, before)
    assert model.head.training and not model.backbone.training


@pytest.mark.parametrize("features", ["layers", "last"])
def test_a_window_is_the_mean_of_its_patches(features):
    model = VGGPretrained((3, 187, 96), 2, PretrainedConfig(features=features)).eval()
    patch_features = model.backbone.layer_features if features == "layers" else model.backbone.embed
    patches = torch.randn(2, 3, 187, 96)
    with torch.no_grad():
        expected = torch.stack([patch_features(p).mean(dim=0) for p in patches])
        torch.testing.assert_close(model.embed(patches), expected)
        torch.testing.assert_close(model(patches), model(model.embed(patches)))
    assert model.head[0].num_features == 1280 if features == "layers" else model.head[0].in_features == 256


def test_the_vgg_layer_features_are_the_mean_and_max_of_every_block():
    backbone = load_pretrained("vgg-mtt")
    activations = []
    hooks = [bn.register_forward_hook(lambda _m, _i, out: activations.append(out)) for bn in backbone.bns]
    patches = torch.randn(3, 187, 96)
    with torch.no_grad():
        features = backbone.layer_features(patches)
    for hook in hooks:
        hook.remove()
    expected = torch.cat([torch.cat([a.mean(dim=(2, 3)), a.amax(dim=(2, 3))], dim=1) for a in activations], dim=1)
    assert len(activations) == 5 and features.shape == (3, backbone.layer_features_size) == (3, 1280)
    torch.testing.assert_close(features, expected)


def test_musicnn_layer_features_feed_its_own_back_end():
    backbone = load_pretrained("musicnn-mtt")
    patches = torch.randn(2, 187, 96)
    with torch.no_grad():
        features = backbone.layer_features(patches)
        assert features.shape == (2, backbone.layer_features_size)
        back_end = backbone.dense_bn(torch.relu(backbone.dense(backbone.backend_bn(features))))
        torch.testing.assert_close(backbone.embed(patches), back_end)


def test_an_unknown_embedding_choice_is_refused():
    with pytest.raises(ValueError, match="features must be"):
        PretrainedConfig(features="middle")


def test_a_model_file_from_before_the_layer_features_still_loads(tmp_path):
    """Its JSON has no `features` key: its head was trained on the tagger's last layer (256 features)."""
    old = VGGPretrained((3, 187, 96), 2, PretrainedConfig(features="last")).eval()
    head = {k for k in old.state_dict() if k.startswith("head.")}
    assert head == {"head.0.weight", "head.0.bias", "head.3.weight", "head.3.bias"}  # the earlier release's layout
    (tmp_path / "models").mkdir()
    save_tensors(tmp_path / "models" / "vgg-pretrained.safetensors", old.state_dict())
    config = {k: v for k, v in asdict(old.config).items() if k != "features"}
    description = {"format": MODEL_FORMAT, "family": "vgg-pretrained", "input_shape": [3, 187, 96]}
    description |= {"labels": ["a", "b"], "config": config, "input_kind": "musicnn", "features": {"audio": {}}}
    (tmp_path / "models" / "vgg-pretrained.json").write_text(json.dumps(description))
    loaded = load_model(tmp_path, "vgg-pretrained").module
    assert loaded.config.features == "last"
    patches = torch.randn(2, 3, 187, 96)
    with torch.no_grad():
        torch.testing.assert_close(loaded(patches), old(patches))
