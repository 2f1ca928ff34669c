"""Check helpers the assignment notebooks import: one module per assignment, shared parts in common."""
