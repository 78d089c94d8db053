"""Scale profiles of the synthetic platform and the fixed simulated calendar.

A profile fixes how big the generated platform is. ``PROFILES`` holds the named ones
(XS for ``make run`` and tests, up to L for benchmarks); ``resolve_profile`` applies
custom overrides (learners, organizations, courses, skills, days, ...).
"""
from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timedelta, timezone

DAY = 86_400
HOUR = 3_600
HISTORY_DAYS = 90


def _start() -> int:
    """Day 0 of the simulated timeline (midnight UTC), as epoch seconds.

    ``SANDBOX_START`` (YYYY-MM-DD) fixes it; by default it is 90 days before today, so the
    sandbox's "now" (day 0 + 90 days of history) is today's midnight and snapshots computed as
    of its clock are current (unexpired) in real time too. The data is deterministic for a
    given seed and start.
    """
    fixed = os.environ.get("SANDBOX_START")
    if fixed:
        day = datetime.strptime(fixed, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    else:
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        day = today - timedelta(days=HISTORY_DAYS)
    return int(day.timestamp())


START = _start()


@dataclasses.dataclass(frozen=True)
class Profile:
    """Size of a synthetic platform.

    ``days`` of history are visible at start ("now" = START + days); ``future_days`` more
    are generated but hidden until the clock is advanced.
    """

    name: str
    learners: int
    organizations: int
    courses: int
    skills: int
    days: int = 90
    future_days: int = 14
    enrollments_per_learner: float = 3.0
    events_per_learner: float = 100.0
    erased_users: int = 2

    @property
    def timeline_days(self) -> int:
        """Days of generated activity (visible history plus hidden future)."""
        return self.days + self.future_days


PROFILES: dict[str, Profile] = {
    "XS": Profile("XS", learners=300, organizations=8, courses=12, skills=20),
    "S": Profile("S", learners=5_000, organizations=40, courses=60, skills=60, erased_users=4),
    "M": Profile("M", learners=25_000, organizations=120, courses=200, skills=120,
                 erased_users=8),
    "L": Profile("L", learners=100_000, organizations=300, courses=500, skills=200,
                 erased_users=20),
}


def resolve_profile(profile: str | Profile = "XS", **overrides) -> Profile:
    """Return a named (or given) profile with the non-None ``overrides`` applied."""
    base = profile if isinstance(profile, Profile) else PROFILES[profile.upper()]
    changes = {k: v for k, v in overrides.items() if v is not None}
    if changes:
        base = dataclasses.replace(base, name=f"{base.name}-custom", **changes)
    if base.organizations < 3 or base.learners < 30:
        raise ValueError("a profile needs at least 3 organizations and 30 learners")
    if base.timeline_days < 7 or base.days < 1:
        raise ValueError("a profile needs at least 1 day of history and 7 days of timeline (days + future_days)")
    return base
