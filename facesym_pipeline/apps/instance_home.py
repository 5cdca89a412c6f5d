"""The project's own Dagster instance folder (git-ignored), so runs made from the command
line show up in the UI started by `make dev`."""

from __future__ import annotations

import os
from pathlib import Path

from facesym_pipeline.lib.paths import dagster_home

_DAGSTER_YAML = """\
# Local instance of this project (created by facesym). Runs, materialisations and sensor
# cursors live in SQLite files next to this file.
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
"""


def ensure_dagster_home() -> Path:
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
