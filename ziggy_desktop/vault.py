"""Connections and secrets: DEV/PROD values encrypted at rest with Fernet, resolved per run mode."""
