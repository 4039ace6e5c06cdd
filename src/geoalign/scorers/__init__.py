"""Scorers behind the staged ``Scorer`` protocol (one module per backend).

Build one by name with ``geoalign.scorers.registry.build_scorer``; backends are imported only when
chosen, so the core install never imports torch or onnxruntime.
"""
