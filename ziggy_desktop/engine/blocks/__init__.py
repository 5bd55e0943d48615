"""The block library: importing this package registers every built-in block type."""

from . import (  # noqa: F401 - imported for their register() calls
    audit,
    core,
    data_store,
    files,
    hubspot,
    mapper,
    rest,
    script,
    sql,
    validate,
)
