import time

import dagster as dg

from facesym_pipeline.defs.frames.assets import sampled_frames
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.progress import progress
from facesym_pipeline.defs.resources import LandmarkerResource, WarehouseResource
from facesym_pipeline.lib.face.landmark_pass import landmark_pass_for_dataset


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[sampled_frames],
    group_name="landmarks",
    kinds={"parquet", "mediapipe"},
)
def face_landmarks(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    landmarker: LandmarkerResource,
) -> dg.MaterializeResult:
    """MediaPipe face landmarks (478 x 3), blendshapes (52) and head transform (4 x 4) for
    every sampled frame, with face count, image metrics and the hand cover of the face
    (occlusion), all measured on the same decoded frame."""
    key = context.partition_key
    started = time.perf_counter()
    with progress(context, f"[{key}] landmarks", "media") as report:
        table = landmark_pass_for_dataset(
            warehouse.lake.read("media_inventory", key),
            warehouse.lake.read("sampled_frames", key),
            warehouse.dataset_folder(key),
            landmarker.resolved_model(),
            landmarker.workers,
            progress=report,
            hands=landmarker.resolved_hands(),
        )
    elapsed_s = time.perf_counter() - started
    path = warehouse.lake.write("face_landmarks", key, table)
    status = dict(table["status"].value_counts().iter_rows())
    return dg.MaterializeResult(
        metadata=table_metadata(
            table,
            path,
            frames_with_face=status.get("ok", 0),
            frames_by_status=dg.MetadataValue.json(status),
            frames_per_s=round(table.height / elapsed_s, 1) if elapsed_s else None,
            workers=landmarker.workers,
            hand_cover_measured=landmarker.detect_hands,
        )
    )
