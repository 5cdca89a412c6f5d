from __future__ import annotations

from facesym_pipeline.lib.code_version import _reach, library_closure


def _modules_of(assets) -> set[str]:
    _, modules = _reach(assets.op.compute_fn.decorated_fn)
    return library_closure(modules)


def test_an_asset_reaches_what_it_calls_through_resources_and_local_imports():
    from facesym_pipeline.defs.models.assets import asymmetry_classifier
    from facesym_pipeline.defs.temporal.assets import temporal_trends

    trends = _modules_of(temporal_trends)
    # Through WarehouseResource's methods and properties: the lake and the dataset paths.
    assert {"facesym_pipeline.lib.store.lake", "facesym_pipeline.lib.paths"} <= trends
    assert "facesym_pipeline.lib.temporal.video_trends" in trends
    # Imported inside the body (to load scikit-learn late) still counts.
    assert "facesym_pipeline.lib.classify.training_run" in _modules_of(asymmetry_classifier)
    # Not what the asset never runs: the demo generators and another room's models.
    assert not any(m.startswith("facesym_pipeline.demo") for m in trends)
    assert "facesym_pipeline.lib.classify.training_run" not in trends
