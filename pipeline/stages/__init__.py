"""The DVC stages: one module per `synth` command, each with `run(params, inputs, outputs)`."""
