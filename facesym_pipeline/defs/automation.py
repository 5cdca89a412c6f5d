"""How assets stay up to date: one automation condition per kind of asset, evaluated by
one automation sensor (the daemon) and by `facesym run` alike, so both make the same
decision the UI shows.

An asset is materialised when it is missing (and its last attempt did not fail), when
anything it reads has a new data version (a dataset's content fingerprint, or a new
materialisation upstream), or when the code it runs changed. A failed partition is retried
when its cause goes away (new content or new code) and once a night in any case.
"""

import dagster as dg

AC = dg.AutomationCondition
NIGHTLY = "0 3 * * *"

_TRIGGER = (
    (AC.missing() & ~AC.execution_failed()).with_label("missing, not failed")
    | AC.any_deps_updated()
    | AC.code_version_changed()
    | (AC.cron_tick_passed(NIGHTLY) & AC.execution_failed()).with_label("nightly retry")
).since_last_handled()

# Per dataset: wait until everything read exists for this partition.
PER_DATASET = (
    _TRIGGER & ~AC.any_deps_missing() & ~AC.any_deps_in_progress() & ~AC.in_progress()
).with_label("fresh per dataset")

# Over all datasets: one missing or failed dataset must not hold back the others, so only
# work still running upstream is waited for.
ACROSS_DATASETS = (_TRIGGER & ~AC.any_deps_in_progress() & ~AC.in_progress()).with_label(
    "fresh across datasets"
)


# Image models train for minutes: they start in a run of their own once their inputs
# exist, so a dataset's features and trends never wait for them.
OWN_RUN_GROUPS = {"deep_models"}


def condition_for(
    spec: dg.AssetSpec, other_partitioning: list[dg.AssetKey]
) -> dg.AutomationCondition:
    """The asset's condition; `other_partitioning`: what it reads that is partitioned
    differently (per dataset vs across datasets). Those run in runs of their own, so the
    asset waits while any of them is due instead of running beside them on what they are
    about to replace: the healthy ranges are refitted after the datasets' features, and
    trends are judged after the ranges they read."""
    base = PER_DATASET if spec.partitions_def is not None else ACROSS_DATASETS
    if spec.group_name in OWN_RUN_GROUPS:
        # Not while an input is about to be requested or is itself due: one training per
        # change of its inputs, after they are done.
        busy_input = AC.any_deps_match(AC.will_be_requested() | PER_DATASET)
        base = (base & ~busy_input).with_label(f"{base.get_label()}, in a run of its own")
    if not other_partitioning:
        return base
    theirs = ACROSS_DATASETS if spec.partitions_def is not None else PER_DATASET
    waiting = AC.any_deps_match(theirs).allow(dg.AssetSelection.assets(*other_partitioning))
    return (base & ~waiting).with_label(f"{base.get_label()}, after what it reads")


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
    # One run per dataset partition rather than a backfill: they start at once.
    emit_backfills=False,
    description="Evaluates every asset's automation condition and launches what is due.",
)
