"""The shortcut audit: counterfactual copies of held-out faces, and every model (landmark
geometry, full-face CNN, region CNN) scored on them to see which one relied on what."""
