"""Datasets: labelled recordings listed, grouped by work, split and dealt into folds without leakage;
the built-in corpus rendered from real scores."""
