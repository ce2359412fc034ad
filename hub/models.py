"""Import every package's models so the metadata is complete (migrations, tests)."""

from __future__ import annotations

import agencies.identity
import agencies.models
import agencies.tasks.models
import audit.models
import consent.models
import hub.referrals.models
import meetings.models  # noqa: F401
import hub.auth.models  # noqa: F401
from hub.core.db import Base

metadata = Base.metadata
