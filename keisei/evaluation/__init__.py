"""Measuring strength: players, USI engines, matches, ratings, the evaluation hook."""
