"""The training loop and what it is made of: state, hooks, checkpoints, sinks."""
