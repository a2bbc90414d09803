"""Type stub: every public name of `classicfy`, which the package itself imports on first use."""

from classicfy.config import (
    AudioConfig as AudioConfig,
    AugmentConfig as AugmentConfig,
    FeatureConfig as FeatureConfig,
    RunConfig as RunConfig,
    TrainConfig as TrainConfig,
)
from classicfy.data.manifest import (
    Recording as Recording,
    list_dataset as list_dataset,
    split_by_group as split_by_group,
)
from classicfy.evaluation.baseline import SummaryBaseline as SummaryBaseline
from classicfy.evaluation.ensemble import EnsembleModel as EnsembleModel
from classicfy.evaluation.metrics import ModelEvaluator as ModelEvaluator
from classicfy.evaluation.pipeline import evaluate_run as evaluate_run
from classicfy.features.augment import DataAugmenter as DataAugmenter
from classicfy.features.cache import FeatureCache as FeatureCache
from classicfy.features.extraction import extract_dataset as extract_dataset
from classicfy.features.spectral import AudioFeatureExtractor as AudioFeatureExtractor
from classicfy.models import CNNModel as CNNModel, GRUModel as GRUModel, VGGModel as VGGModel
from classicfy.predict import Classifier as Classifier
from classicfy.rundir import ModelCard as ModelCard, RunFolder as RunFolder
from classicfy.tagging import Tagger as Tagger
from classicfy.training.balance import DataBalancer as DataBalancer
from classicfy.training.pipeline import train_run as train_run
from classicfy.workspace import Workspace as Workspace

__version__: str
__all__: list[str]
