"""Bundled resources (sample flows, icons, styles), found with importlib.resources in every kind of run."""
