"""Import every package's models so the metadata is complete (migrations, tests)."""

from __future__ import annotations

import agencies.models
import audit.models
import hub.auth.models  # noqa: F401
from hub.core.db import Base

metadata = Base.metadata
