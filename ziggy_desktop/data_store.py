"""The data_store block's storage: namespaced key/value records kept in the app database."""
