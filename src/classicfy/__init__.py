"""classicfy: deep-learning classifiers for classical-music recordings.

The public classes are imported on first use, so `import classicfy` (and the CLI) stays fast.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "AudioConfig": "classicfy.audio",
    "AudioFeatureExtractor": "classicfy.features",
    "FeatureConfig": "classicfy.features",
    "FeatureCache": "classicfy.cache",
    "Recording": "classicfy.data.manifest",
    "list_dataset": "classicfy.data.manifest",
    "split_by_group": "classicfy.data.manifest",
    "extract_dataset": "classicfy.extraction",
    "AugmentConfig": "classicfy.augment",
    "DataAugmenter": "classicfy.augment",
    "DataBalancer": "classicfy.balance",
    "CNNModel": "classicfy.models",
    "GRUModel": "classicfy.models",
    "VGGModel": "classicfy.models",
    "RunConfig": "classicfy.run",
    "train_run": "classicfy.run",
    "TrainConfig": "classicfy.train",
    "EnsembleModel": "classicfy.ensemble",
    "ModelEvaluator": "classicfy.evaluate",
    "SummaryBaseline": "classicfy.baseline",
    "evaluate_run": "classicfy.evaluation",
    "Classifier": "classicfy.predict",
    "Tagger": "classicfy.tagging",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'classicfy' has no attribute {name!r}")
