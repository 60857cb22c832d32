"""The PostgreSQL-only tier: collected only when ``TEST_DATABASE_URL`` names a PostgreSQL database.

Without it these files are not collected at all (nothing is skipped): run them with
``TEST_DATABASE_URL=postgresql://… pytest tests/pg``.
"""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("TEST_DATABASE_URL") else ["test_*.py"]
