"""Scoring: metrics, the ensemble, the baseline, the evaluate pipeline and the report."""
