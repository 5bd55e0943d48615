"""The audit log: lines written by audit blocks, and the queries behind GET /api/ziggy/audit."""
