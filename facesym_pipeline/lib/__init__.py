"""Pure logic of the pipeline, in rooms by stage: no Dagster import anywhere below this
package, and nothing from `facesym_pipeline.demo` or `facesym_pipeline.apps`.

Rooms depend on each other in one direction (a test holds them to it): store <- media <-
face <- measure <- classify, image_models <- audit. temporal needs only store (measure's
healthy ranges use its thresholds), and render writes what temporal computed. The loose
modules are what every room shares (`paths`, `code_version`) and `file_analysis`, which
runs one file through all of them.
"""
