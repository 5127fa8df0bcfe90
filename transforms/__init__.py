"""Transforms: `raw` -> `staging` (typed, cleaned, pseudonymised, placed in an area)."""
