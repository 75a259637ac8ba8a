"""Flax models of the workload zoo, one family per module."""
