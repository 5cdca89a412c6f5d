"""Builds the bad-input corpus the tests use: every kind of file a real dataset folder can
hold that must be analysed or rejected with a specific reason."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from facesym_pipeline.demo.samples import sample_path

# relpath -> expected (status, reason code or None)
EXPECTED: dict[str, tuple[str, str | None]] = {
    "zero_bytes.jpg": ("rejected", "empty_file"),
    "truncated.jpg": ("rejected", "corrupt_image"),
    "text_named.jpg": ("rejected", "not_an_image"),
    "alpha.png": ("ok", None),
    "grayscale.jpg": ("ok", None),
    "sixteen_bit.png": ("ok", None),
    "cmyk.jpg": ("ok", None),
    "one_pixel.png": ("rejected", "image_too_small"),
    "huge_12000.jpg": ("ok", None),
    "huge_12000.png": ("rejected", "image_too_large"),
    "no_face.jpg": ("ok", None),
    "five_faces.jpg": ("ok", None),
    "exif_rotated.jpg": ("ok", None),
    "garbage.mp4": ("rejected", "unreadable_video"),
    # The sample's index (moov) is at the end: cut short, no decoder can open it.
    "truncated.mp4": ("rejected", "unreadable_video"),
    "notes.xyz": ("rejected", "unsupported_extension"),
    "outside_link.jpg": ("rejected", "symlink_outside_dataset"),
    "visage été 1.jpg": ("ok", None),
    "zz duplicate.jpg": ("rejected", "duplicate_content_of"),
}
# Frame-level outcomes (quality reasons) for the files that are analysed.
EXPECTED_QUALITY = {
    "no_face.jpg": "no_face",
    "five_faces.jpg": "multiple_faces",
}


def build_bad_input_corpus(folder: Path, outside: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    face = Image.open(sample_path("obama.jpg")).convert("RGB")
    small = face.resize((face.width // 2, face.height // 2))

    (folder / "zero_bytes.jpg").write_bytes(b"")
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=90)
    (folder / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    (folder / "text_named.jpg").write_text("this is not a picture\n")
    alpha = small.convert("RGBA")
    alpha.putalpha(200)
    alpha.save(folder / "alpha.png")
    small.convert("L").save(folder / "grayscale.jpg", quality=90)
    grey16 = (np.asarray(small.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(folder / "sixteen_bit.png")
    small.convert("CMYK").save(folder / "cmyk.jpg", quality=90)
    Image.new("RGB", (1, 1), (10, 20, 30)).save(folder / "one_pixel.png")
    _huge_jpeg(folder / "huge_12000.jpg", face)
    Image.new("L", (12000, 12000), 90).save(folder / "huge_12000.png", compress_level=1)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (400, 400, 3), dtype=np.uint8)).save(
        folder / "no_face.jpg"
    )
    shutil.copy(sample_path("multi_face.jpg"), folder / "five_faces.jpg")
    _exif_rotated(folder / "exif_rotated.jpg", small)
    (folder / "garbage.mp4").write_bytes(rng.integers(0, 255, 50_000, dtype=np.uint8).tobytes())
    video = sample_path("single_face.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(video[: int(len(video) * 0.6)])
    (folder / "notes.xyz").write_text("unknown kind of file\n")
    outside.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample_path("biden.jpg"), outside / "secret.jpg")
    os.symlink(outside / "secret.jpg", folder / "outside_link.jpg")
    shutil.copy(sample_path("obama.jpg"), folder / "visage été 1.jpg")
    shutil.copy(sample_path("obama.jpg"), folder / "zz duplicate.jpg")
    return folder


def _huge_jpeg(path: Path, face: Image.Image) -> None:
    """A 12000x12000 JPEG with a real face in the middle (mostly flat, so it stays small)."""
    canvas = Image.new("RGB", (12000, 12000), (120, 120, 120))
    big_face = face.resize((face.width * 8, face.height * 8))
    canvas.paste(big_face, ((12000 - big_face.width) // 2, (12000 - big_face.height) // 2))
    canvas.save(path, "JPEG", quality=70)


def _exif_rotated(path: Path, face: Image.Image) -> None:
    """The face stored sideways with EXIF orientation 6 (display rotated 90 degrees)."""
    stored = face.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(path, "JPEG", quality=90, exif=exif.tobytes())
