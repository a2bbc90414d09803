"""Scoring one run: metrics with intervals over works, the ensemble, the baseline, figures and the report."""
