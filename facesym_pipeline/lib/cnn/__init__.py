"""Phase 2 image models (torch, no pretrained weights): a full-face residual network and a
region network that compares each region with its mirrored counterpart."""
