"""The HTTP service (FastAPI, extra ``server``): app factory, routes, schemas, auth and metrics.

Import :func:`geoalign.server.app.create_app`; this package itself imports nothing heavy.
"""
