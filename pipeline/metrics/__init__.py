"""Metrics: fidelity, detection, utility, privacy, attacks; the registry and the report."""
