"""script: user Python run in a separate worker process with a per-call timeout."""
