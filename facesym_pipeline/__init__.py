"""facesym_pipeline: facial-asymmetry measurements as a Dagster asset graph.

Outputs are research signals, never a diagnosis.
"""

__version__ = "0.1.0"
