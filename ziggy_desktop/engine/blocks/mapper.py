"""map: field mapping and transforms with the safe expression language."""
