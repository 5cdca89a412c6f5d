"""Where results live: the Parquet lake, the DuckDB catalog, content hashes and
fingerprints, CSV exports, model files (skops classifiers and torch state dicts) and the
pinned-distribution fetcher."""
