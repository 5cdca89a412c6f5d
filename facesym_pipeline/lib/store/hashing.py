"""Content hashes: sha256 of a file's bytes (media ids, dataset fingerprints, verified
downloads and model files) and a perceptual hash of an image's look (near-duplicate
photos for cross-validation groups)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.fft import dctn


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


HASH_SIDE = 32  # the image is reduced to this many pixels a side before the DCT
HASH_BLOCK = 8  # lowest frequencies kept: 8x8 -> 64 bits


def _to_gray_square(image: Image.Image | np.ndarray | str | Path) -> np.ndarray:
    if isinstance(image, str | Path):
        with Image.open(image) as im:
            im.load()
            pil = im.copy()
    elif isinstance(image, np.ndarray):
        pil = Image.fromarray(np.asarray(image, dtype=np.uint8))
    else:
        pil = image
    # Alpha and palette images first become RGB so that transparency does not turn into black.
    if pil.mode not in ("L", "RGB"):
        pil = pil.convert("RGB")
    gray = pil.convert("L").resize((HASH_SIDE, HASH_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(gray, dtype=np.float64)


def phash(image: Image.Image | np.ndarray | str | Path) -> int:
    """64-bit DCT perceptual hash as an unsigned Python int.

    The lowest 8x8 DCT frequencies of a 32x32 grayscale copy are compared with their median
    (the DC term is left out of the median: it only carries overall brightness). Bit
    `8*row + col` is set where the coefficient exceeds the median. Accepts a PIL image, an
    RGB/gray uint8 array, or a file path.
    """
    coeffs = dctn(_to_gray_square(image), type=2, norm="ortho")[:HASH_BLOCK, :HASH_BLOCK]
    flat = coeffs.ravel()
    bits = flat > np.median(flat[1:])
    return int(np.packbits(bits, bitorder="little").view("<u8")[0])


def phash_mirrored(image: Image.Image | np.ndarray | str | Path) -> int:
    """Hash of the horizontally mirrored image (a flipped augmentation of the same photo)."""
    gray = _to_gray_square(image)[:, ::-1]
    return phash(Image.fromarray(gray.astype(np.uint8), mode="L"))


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return (int(a) ^ int(b)).bit_count()
