"""The hardware registry: GPU models, market observations, FX rates, frontier, assumptions."""
