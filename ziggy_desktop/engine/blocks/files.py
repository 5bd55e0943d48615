"""file_read and file_write: CSV, JSON and JSON Lines on the local file system, streamed."""
