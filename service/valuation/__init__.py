"""Quotes, residual values and fleet valuations: the only callers of the engine."""
