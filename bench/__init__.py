"""Benchmarks: ingest, retrieval, answering, cold start and retrieval quality against a peer pipeline."""
