"""The asymmetry classifier: training data, grouping for cross-validation, honest model
selection, metrics with subject-bootstrap intervals, SHAP, the risk signal."""
