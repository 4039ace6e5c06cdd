"""Learned retrieval for linking: an address embedding (bi-encoder) and a nearest-neighbour index.

Rule blocking (``geoalign.link.blocking``) finds records that share a key; it misses records written
differently (a POI without its road, a road without its number, abbreviations, typos). Retrieval adds
the k records whose embeddings are nearest to the query's, and the link core takes the union.

* ``embedder`` — inference: an ONNX encoder (mean pooling + L2 normalisation inside the graph) run by
  onnxruntime over ``tokenizers`` ids; core dependencies only, never torch.
* ``index`` — nearest-neighbour search: usearch HNSW (extra ``ann``) or exact search in numpy.
* ``cache`` — embeddings on disk, one row per distinct normalized address, beside a resumable job.
* ``retriever`` — embeddings + index over a link run's indexed records: the ``neighbours`` the link core
  asks for.
* ``train`` / ``export`` — training (contrastive, in-batch negatives) and ONNX export; need ``[train]``.
"""

from __future__ import annotations
