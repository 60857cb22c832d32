"""Where ``BookTerms`` used to live; ``service.valuation.fleet`` still imports it from here.

The finance use cases are in ``assets`` (the register), ``terms`` (book terms and schedules)
and ``depreciation`` (``GET /depreciation``).
"""

from service.finance.terms import BookTerms

__all__ = ["BookTerms"]
