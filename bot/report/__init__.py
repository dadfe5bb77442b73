"""The impact report: run charts, per-organisation figures, an HTML page and a CSV (pure)."""
