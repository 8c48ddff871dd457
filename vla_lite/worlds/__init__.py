"""Simulated worlds."""
