"""Progress messages on stderr (stdout stays clean for tables and JSON)."""

import logging

logger = logging.getLogger("pipeline")


def setup(verbose: bool = False) -> None:
    """Configure the package logger once, for the CLI."""
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("synth: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
