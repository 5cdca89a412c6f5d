"""Generators for development and the demo: sample media fetching, demo image and video
datasets with injected asymmetry, synthetic per-frame series, the asymmetry injector (warp)
and the generator of the mirror-pair table. Production code (lib/, defs/) never imports
this package."""
