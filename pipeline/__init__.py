"""synth-pipeline: synthetic tables that are faithful, useful and private, with the proof."""

__version__ = "0.1.0"

__all__ = ["Synthesizer", "__version__"]


def __getattr__(name: str):
    # Lazy: `import pipeline` (and `synth --help`) must not import torch.
    if name == "Synthesizer":
        from pipeline.api import Synthesizer

        return Synthesizer
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
