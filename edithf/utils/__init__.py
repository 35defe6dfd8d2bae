"""Small shared helpers (atomic writes, progress)."""
