"""GPU valuation service: fair lease rates, residual values and book depreciation for GPUs."""

__version__ = "0.1.0"
