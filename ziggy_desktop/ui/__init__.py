"""The Qt GUI (PySide6): widgets and models over the core services; never imports the server."""
