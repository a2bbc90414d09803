"""Datasets: listing labelled recordings, grouping them by work and splitting without leakage."""
