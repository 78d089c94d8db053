"""governance layer."""
