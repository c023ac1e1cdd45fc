"""Probability models and their lifecycle."""
