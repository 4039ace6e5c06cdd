"""Scorers behind the staged ``Scorer`` protocol (one module per backend).

Build one from a :class:`geoalign.scorers.spec.ScorerSpec` (``ScorerSpec(model=DIR).build()``: what every
command, the Python API and the workers do), or by name with ``geoalign.scorers.registry.build_scorer``;
backends are imported only when chosen, so the core install never imports torch or onnxruntime.
"""
