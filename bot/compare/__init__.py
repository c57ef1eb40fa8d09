"""Comparing two artifacts: diff, weights-vs-architecture check, value deltas."""
