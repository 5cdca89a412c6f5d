"""From landmarks to features: symmetry and functional measures, per-media summaries, the
feature tables, calibration against injected asymmetry, healthy ranges and the feature
dictionary."""
