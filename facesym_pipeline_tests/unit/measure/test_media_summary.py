"""Per-media summary: image pass-through, video aggregates, range of motion."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from facesym_pipeline.lib.measure.feature_dictionary import feature_dictionary
from facesym_pipeline.lib.measure.functional import COLUMNS as FUNCTIONAL_COLUMNS
from facesym_pipeline.lib.measure.functional import functional_features
from facesym_pipeline.lib.measure.media_summary import ROM_COLUMNS, summarise_media
from facesym_pipeline.lib.measure.registry import default_limits
from facesym_pipeline.lib.measure.symmetry import COLUMNS as SYMMETRY_COLUMNS
from facesym_pipeline.lib.measure.symmetry import CORNER_COLUMNS, symmetry_features
from facesym_pipeline_tests.helpers import still, video


def _frames(media_id: str, face: dict) -> pl.DataFrame:
    symmetry = symmetry_features(
        face["landmarks"], face["width"], face["height"], corner_positions=True
    )
    functional = functional_features(face["blendshapes"], symmetry)
    n = symmetry.height
    keys = pl.DataFrame(
        {
            "dataset": ["samples"] * n,
            "media_id": [media_id] * n,
            "frame_index": face.get("frame_index", np.zeros(n, int)).tolist(),
        }
    )
    return pl.concat([keys, symmetry, functional], how="horizontal")


@pytest.fixture(scope="module")
def real_frames() -> pl.DataFrame:
    return pl.concat(
        [_frames("smile_video", video("single_face.mp4")), _frames("photo", still("obama.jpg"))]
    )


def test_image_row_is_the_frame_and_video_row_is_robust(real_frames):
    summary = summarise_media(real_frames)
    assert summary["media_id"].to_list() == ["smile_video", "photo"]  # order of appearance
    photo = summary.row(1, named=True)
    frame = real_frames.filter(pl.col("media_id") == "photo").row(0, named=True)
    assert photo["kind"] == "image" and photo["n_frames"] == 1
    for name in ("mouth_corner_height_diff_mm", "procrustes_face", "bs_mouthSmile_asym"):
        assert photo[name] == pytest.approx(frame[name])
    assert photo["mouth_corner_height_diff_mm_p90_abs"] == pytest.approx(
        abs(frame["mouth_corner_height_diff_mm"])
    )
    assert all(photo[c] is None for c in ROM_COLUMNS)
    clip = summary.row(0, named=True)
    values = real_frames.filter(pl.col("media_id") == "smile_video")["eye_opening_diff_mm"]
    assert clip["kind"] == "video" and clip["n_frames"] == values.len()
    assert clip["eye_opening_diff_mm"] == pytest.approx(float(np.median(values.to_numpy())))
    assert clip["eye_opening_diff_mm_p90_abs"] == pytest.approx(
        float(np.percentile(np.abs(values.to_numpy()), 90))
    )
    # Every frame feature is summarised; keys and corner positions are not features.
    for name in SYMMETRY_COLUMNS + FUNCTIONAL_COLUMNS:
        if name != "blendshape_activation":
            assert name in summary.columns and f"{name}_p90_abs" in summary.columns
    assert not any(c.startswith(("frame_index", "mouth_corner_left_x")) for c in summary.columns)


def test_real_smile_has_even_range_of_motion(real_frames):
    clip = summarise_media(real_frames).row(0, named=True)
    assert clip["mouth_excursion_left_mm"] > 5 and clip["mouth_excursion_right_mm"] > 5
    assert 0.8 < clip["mouth_rom_ratio"] <= 1.0


def test_fraction_beyond_healthy_range_uses_given_or_default_limits():
    values = [0.5, -4.0, 1.0, 5.0]
    frames = pl.DataFrame(
        {"media_id": ["v"] * 4, "frame_index": [0, 1, 2, 3], "mouth_corner_height_diff_mm": values}
    )
    default = summarise_media(frames).row(0, named=True)
    assert default_limits()["mouth_corner_height_diff_mm"] == 2.0  # 2 of the 4 beyond
    assert default["mouth_corner_height_diff_mm_frac_out"] == pytest.approx(0.5)
    strict = summarise_media(frames, {"mouth_corner_height_diff_mm": 0.75}).row(0, named=True)
    assert strict["mouth_corner_height_diff_mm_frac_out"] == pytest.approx(0.75)
    assert default["mouth_corner_height_diff_mm"] == pytest.approx(np.median(values))


def test_range_of_motion_from_the_most_neutral_frame():
    # Frame 2 is the most neutral; the left corner moves 2 mm, the right 8 mm from there.
    frames = pl.DataFrame(
        {
            "media_id": ["v"] * 3,
            "frame_index": [0, 1, 2],
            "blendshape_activation": [3.0, 2.0, 0.5],
            CORNER_COLUMNS[0]: [22.0, 21.0, 20.0],
            CORNER_COLUMNS[1]: [-30.0, -30.0, -30.0],
            CORNER_COLUMNS[2]: [-28.0, -24.0, -20.0],
            CORNER_COLUMNS[3]: [-30.0, -30.0, -30.0],
        }
    )
    row = summarise_media(frames).row(0, named=True)
    assert row["mouth_excursion_left_mm"] == pytest.approx(np.percentile([2, 1, 0], 95))
    assert row["mouth_excursion_right_mm"] == pytest.approx(np.percentile([8, 4, 0], 95))
    assert row["mouth_rom_ratio"] == pytest.approx(
        row["mouth_excursion_left_mm"] / row["mouth_excursion_right_mm"]
    )


def test_feature_dictionary_covers_every_column():
    table = feature_dictionary()
    names = set(table["name"])
    for name in SYMMETRY_COLUMNS + CORNER_COLUMNS + FUNCTIONAL_COLUMNS + ROM_COLUMNS:
        assert name in names, name
    assert table["name"].n_unique() == table.height
    assert table.filter(pl.col("formula").str.len_chars() < 10).is_empty()
    corner = table.filter(pl.col("name") == "mouth_corner_height_diff_mm").row(0, named=True)
    assert corner["unit"] == "mm" and sorted(corner["landmark_indices"]) == [61, 291]
