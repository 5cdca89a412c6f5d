"""From files to frames: decoding images and videos, the per-dataset inventory with its
label rules and rejections, which frames are analysed, and the nuisance changes an image
can undergo."""
