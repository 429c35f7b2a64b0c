"""Predictive models: features, anomaly detection, temperature drift, remaining useful life,
emissions, the MLflow registry, and their evaluation against the simulator's truth."""
