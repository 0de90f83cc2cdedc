"""Ingest: load corpus files into articles, split them into chunks, index them incrementally."""
