"""Reporting: tables, CSV/JSON/Parquet, matplotlib figures, timeline traces."""
