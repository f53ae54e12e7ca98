"""Progress messages on stderr (stdout stays clean for tables and JSON)."""

import logging
import sys

logger = logging.getLogger("pipeline")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is now, not the one at set-up (click's CliRunner and
    pytest swap it per invocation; a stale stream would be closed)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def setup(verbose: bool = False) -> None:
    """Configure the package logger once, for the CLI."""
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("synth: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
