"""Head pose from MediaPipe's facial transformation matrix."""

from __future__ import annotations

import numpy as np


def head_pose_deg(transform: np.ndarray) -> np.ndarray:
    """(N,4,4) canonical-face-to-camera transforms -> (N,3) yaw, pitch, roll in degrees.

    Intrinsic Y-X-Z decomposition of the rotation part: yaw about the vertical axis
    pitch about the horizontal axis, roll in the image plane. Scale is removed first.
    Yaw is negative when the face turns towards the subject's right (the nose moves to the
    image's left in a non-mirrored picture); pinned on the 45-degree still in the tests.
    """
    rot = np.asarray(transform, dtype=np.float64)[..., :3, :3]
    rot = rot / np.linalg.norm(rot, axis=-2, keepdims=True)
    yaw = np.degrees(np.arcsin(np.clip(rot[..., 0, 2], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(-rot[..., 1, 2], rot[..., 2, 2]))
    roll = np.degrees(np.arctan2(-rot[..., 0, 1], rot[..., 0, 0]))
    return np.stack([yaw, pitch, roll], axis=-1)
