"""`python -m pipeline ...` is the same as `synth ...`."""

from pipeline.cli import main

main()
