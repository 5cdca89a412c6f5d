"""Which deployment profile this process belongs to (FACESYM_PROFILE).

- `local` (default): SQLite instance, every run executed in one process, lake on disk.
- `distributed`: Postgres instance, queued runs whose steps Celery workers execute over a
  Redis broker, lake and compute logs in S3-compatible storage (deploy/distributed/).
- `kubernetes`: one pod per run and per step (deploy/kubernetes/; configuration only).
"""

from __future__ import annotations

import os

PROFILES = ("local", "distributed", "kubernetes")
PROFILE_ENV = "FACESYM_PROFILE"
# The Celery broker (and result backend) of the distributed profile.
CELERY_BROKER_ENV = "FACESYM_CELERY_BROKER"


def active_profile() -> str:
    profile = os.environ.get(PROFILE_ENV, "local").strip() or "local"
    if profile not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={profile!r}: expected one of {', '.join(PROFILES)}")
    return profile
