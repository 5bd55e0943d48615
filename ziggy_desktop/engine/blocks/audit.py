"""audit: writes lines to the audit table (topic, identifier, keys, data, is-error)."""
