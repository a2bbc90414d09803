"""Cross-validation: a recipe trained and scored over folds grouped by work; two recipes compared."""
