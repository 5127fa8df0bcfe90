"""Quality gates: one Great Expectations suite per stage and family, as code (see docs/quality.md)."""
