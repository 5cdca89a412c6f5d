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


# Runs that sensors and automation conditions launch carry one of these tags.
_AUTOMATED_RUN_TAGS = ("dagster/sensor_name", "dagster/from_automation_condition")


def instance_yaml(hold_automated_runs: bool = False) -> str:
    """The project's instance settings. `hold_automated_runs` keeps every run a sensor or
    an automation condition launches in the queue (limit 0 on their tags), so that only
    runs launched by hand execute: for tests and benches that time one run."""
    if not hold_automated_runs:
        return _DAGSTER_YAML
    limits = "".join(f"      - key: {tag}\n        limit: 0\n" for tag in _AUTOMATED_RUN_TAGS)
    return _DAGSTER_YAML + "    tag_concurrency_limits:\n" + limits


def ensure_dagster_home(hold_automated_runs: bool = False) -> Path:
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(instance_yaml(hold_automated_runs))
    os.environ["DAGSTER_HOME"] = str(home)
    return home
