"""A hub's settings, its high-risk preset and its invite links."""
