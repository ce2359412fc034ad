"""Import every package's models so the metadata is complete (migrations, tests)."""

from __future__ import annotations

# Imported for their side effect: each registers its tables on Base.metadata.
import agencies.models  # noqa: F401
import audit.models  # noqa: F401
import cases.models  # noqa: F401
import consent.models  # noqa: F401
import hub.auth.identity
import hub.auth.models  # noqa: F401
import meetings.models  # noqa: F401
import retention.models  # noqa: F401
import returns.models  # noqa: F401
import subject_access.models  # noqa: F401
import todo.models  # noqa: F401
import transfers.models  # noqa: F401
from hub.core.db import Base

metadata = Base.metadata
