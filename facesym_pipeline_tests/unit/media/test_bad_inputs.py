"""Every file in the bad-input corpus is either analysed or rejected with its own reason,
and the rest of the partition completes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from facesym_pipeline.lib.media.accounting import unaccounted_files
from facesym_pipeline.lib.media.decode import load_image_rgb
from facesym_pipeline.lib.media.inventory import scan_dataset
from facesym_pipeline_tests.bad_inputs import EXPECTED, build_bad_input_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, samples) -> Path:
    root = tmp_path_factory.mktemp("bad")
    return build_bad_input_corpus(root / "data" / "bad", root / "elsewhere")


@pytest.fixture(scope="module")
def inventory(corpus) -> pl.DataFrame:
    return scan_dataset("bad", corpus)


def test_every_file_has_one_row_and_a_reason_when_rejected(corpus, inventory):
    assert sorted(inventory["relpath"]) == sorted(EXPECTED)
    assert not any(unaccounted_files(corpus, inventory).values())


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_expected_outcome(inventory, relpath):
    status, reason = EXPECTED[relpath]
    row = inventory.filter(pl.col("relpath") == relpath).row(0, named=True)
    assert row["status"] == status, row
    if reason is None:
        assert row["reason"] is None
    else:
        assert row["reason"].split(":")[0] == reason


def test_exif_orientation_is_applied(corpus):
    stored_w, stored_h = 0, 0
    from PIL import Image

    with Image.open(corpus / "exif_rotated.jpg") as img:
        stored_w, stored_h = img.size
    rgb = load_image_rgb(corpus / "exif_rotated.jpg")
    # Stored sideways (landscape of a portrait face); analysed upright.
    assert (rgb.shape[1], rgb.shape[0]) == (stored_h, stored_w)


def test_odd_modes_decode_to_rgb(corpus):
    for name in ("alpha.png", "grayscale.jpg", "sixteen_bit.png", "cmyk.jpg"):
        rgb = load_image_rgb(corpus / name)
        assert rgb.dtype.name == "uint8" and rgb.ndim == 3 and rgb.shape[2] == 3, name
        assert rgb.std() > 5, name  # content survived the conversion


@pytest.mark.slow
def test_huge_jpeg_decodes_with_bounded_memory(corpus):
    """A 12000x12000 JPEG (432 MB as RGB) is decoded at reduced scale in a fresh process."""
    # VmHWM is the peak of this process image alone (ru_maxrss would carry over the
    # parent's peak across exec).
    code = (
        "import sys, json;"
        "from pathlib import Path;"
        "from facesym_pipeline.lib.media.decode import load_image_rgb;"
        "a = load_image_rgb(Path(sys.argv[1]));"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0];"
        "print(json.dumps({'shape': list(a.shape), 'peak_mb': int(hwm.split()[1]) / 1024}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(corpus / "huge_12000.jpg")],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert max(report["shape"][:2]) <= 1280
    assert report["peak_mb"] < 400, report  # full decode alone would need 432 MB
