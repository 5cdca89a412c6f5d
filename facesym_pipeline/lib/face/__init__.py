"""From frames to landmarks: the mesh indices, the MediaPipe landmarker and its model
bundle, the landmark pass and table, the face frame (axes, scale, pose), pixel refinement
and the frame-quality judge."""
