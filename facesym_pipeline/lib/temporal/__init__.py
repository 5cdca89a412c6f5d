"""Temporal asymmetry trends in videos: per-video series on a uniform time base,
healthy-range thresholds, persistence, trend and change detection, expression-aware
adjustment, per-region detectors, the `temporal_trends` rows, plots and the HTML report,
and the sequence classifier with its evaluation against the rules."""
