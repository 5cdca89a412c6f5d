"""Image models (torch, no pretrained weights): aligned region crops, a full-face residual
network and a region network that compares each region with its mirrored counterpart,
their deterministic training on subject-grouped folds, and saliency maps."""
