"""classicfy: deep-learning classifiers for classical-music recordings.

The public classes are imported on first use, so `import classicfy` (and the CLI) stays fast.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "AudioConfig": "classicfy.config",
    "AudioFeatureExtractor": "classicfy.features.spectral",
    "FeatureConfig": "classicfy.config",
    "FeatureCache": "classicfy.features.cache",
    "Recording": "classicfy.data.manifest",
    "list_dataset": "classicfy.data.manifest",
    "split_by_group": "classicfy.data.manifest",
    "extract_dataset": "classicfy.features.extraction",
    "AugmentConfig": "classicfy.config",
    "DataAugmenter": "classicfy.features.augment",
    "DataBalancer": "classicfy.training.balance",
    "CNNModel": "classicfy.models",
    "GRUModel": "classicfy.models",
    "VGGModel": "classicfy.models",
    "RunConfig": "classicfy.config",
    "train_run": "classicfy.training.pipeline",
    "TrainConfig": "classicfy.config",
    "EnsembleModel": "classicfy.evaluation.ensemble",
    "ModelEvaluator": "classicfy.evaluation.metrics",
    "SummaryBaseline": "classicfy.evaluation.baseline",
    "evaluate_run": "classicfy.evaluation.pipeline",
    "Classifier": "classicfy.predict",
    "Tagger": "classicfy.tagging",
    "Workspace": "classicfy.workspace",
    "RunFolder": "classicfy.rundir",
    "ModelCard": "classicfy.rundir",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'classicfy' has no attribute {name!r}")
