"""Ziggy Desktop: build data flows, launch them by click or HTTP call, follow every run."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ziggy-desktop")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
