"""data_store: namespaced key/value state kept across runs in the app database."""
