from __future__ import annotations

import pytest

from classicfy.config import TrainConfig


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": 1}, "batch_size must be at least 2"),
        ({"patience": 0}, "patience must be at least 1"),
        ({"learning_rate": -1.0}, "learning_rate must be above 0"),
        ({"mixup": -0.2}, "mixup 0 or more"),
        ({"max_windows_per_class": 0}, "max_windows_per_class must be at least 1"),
        ({"balance": "smote"}, "balance must be one of oversample, weights, none"),
    ],
)
def test_a_train_config_that_cannot_train_is_refused_when_made(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)
