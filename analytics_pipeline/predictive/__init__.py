"""predictive layer."""
