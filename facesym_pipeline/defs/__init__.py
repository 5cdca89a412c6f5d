"""Dagster glue: one folder per domain; logic lives in facesym_pipeline.lib."""

import warnings

import dagster as dg

# Partitioned asset checks are a preview feature we rely on deliberately.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
