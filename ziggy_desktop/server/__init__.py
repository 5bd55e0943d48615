"""The local HTTP API (Tornado): thin handlers over the core services, run on their own thread."""
