"""Evaluation: metrics, calibration, reports and plots (pure functions; plots need the ``plot`` extra)."""
