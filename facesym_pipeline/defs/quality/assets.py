import dagster as dg
from pydantic import Field

from facesym_pipeline.defs.landmarks.assets import face_landmarks
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.face.quality import QualityThresholds, judge_frames, reason_counts

_DEFAULTS = QualityThresholds()


class FrameQualityConfig(dg.Config):
    max_mm_per_px: float = Field(
        default=_DEFAULTS.max_mm_per_px, description="Coarsest resolution on the face (mm/px)"
    )
    max_abs_yaw_deg: float = Field(default=_DEFAULTS.max_abs_yaw_deg, description="Head turn limit")
    max_abs_pitch_deg: float = Field(default=_DEFAULTS.max_abs_pitch_deg, description="Nod limit")
    max_abs_roll_deg: float = Field(default=_DEFAULTS.max_abs_roll_deg, description="Tilt limit")
    max_blur_mm: float = Field(
        default=_DEFAULTS.max_blur_mm, description="Largest estimated blur on the face (mm)"
    )
    min_second_face_ratio: float = Field(
        default=_DEFAULTS.min_second_face_ratio,
        description="Another face at least this wide (vs the main face) rejects the frame",
    )
    max_hand_cover: float = Field(
        default=_DEFAULTS.max_hand_cover,
        description="Fraction of the face under a hand from which a frame is occluded",
    )
    occlusion_gap_s: float = Field(
        default=_DEFAULTS.occlusion_gap_s,
        description="A frame between occluded frames at most this far on each side is occluded",
    )
    min_brightness: float = Field(
        default=_DEFAULTS.min_brightness, description="Mean face grey floor"
    )
    max_brightness: float = Field(
        default=_DEFAULTS.max_brightness, description="Mean face grey ceiling"
    )
    max_outside_fraction: float = Field(
        default=_DEFAULTS.max_outside_fraction, description="Landmarks allowed outside the frame"
    )

    def thresholds(self) -> QualityThresholds:
        return QualityThresholds(**self.model_dump())


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[face_landmarks],
    group_name="quality",
    kinds={"parquet", "polars"},
)
def frame_quality(
    context: dg.AssetExecutionContext, config: FrameQualityConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Whether each analysed frame is fit for measurement, with every reason it is not
    (no face, several faces, small face, pose, blur, exposure, landmarks off-frame, a hand
    over the face)."""
    key = context.partition_key
    quality = judge_frames(warehouse.lake.read("face_landmarks", key), config.thresholds())
    path = warehouse.lake.write("frame_quality", key, quality)
    passed = int(quality["passed"].sum())
    return dg.MaterializeResult(
        metadata=table_metadata(
            quality,
            path,
            reason_counts(quality),
            passed_frames=passed,
            pass_rate=round(passed / quality.height, 4) if quality.height else 0.0,
        )
    )
