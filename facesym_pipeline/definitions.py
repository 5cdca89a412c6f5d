"""The one Dagster `Definitions` of the project: everything defined under `defs/`, found
by Dagster's defs-folder loading (project settings in pyproject.toml's [tool.dg])."""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
