"""synth-pipeline: synthetic tables that are faithful, useful and private, with the proof."""

__version__ = "0.1.0"
