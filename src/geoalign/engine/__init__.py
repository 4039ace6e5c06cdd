"""The engine: dynamic batching, caching and scheduling in front of any Scorer."""
