"""Temporal asymmetry trends in videos (phase 3): per-video series on a uniform time base,
healthy-range thresholds, persistence, trend and change detection, expression-aware
adjustment, per-region detectors, the `temporal_trends` rows, plots and the HTML report."""
