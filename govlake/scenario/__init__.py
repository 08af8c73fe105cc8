"""The embedded default's synthetic departments, seeded so the same seed gives the same data.

- :mod:`~govlake.scenario.registry`: the market-regulation enterprise registry (a database);
- :mod:`~govlake.scenario.social_insurance`: human resources' daily GBK CSV drops;
- :mod:`~govlake.scenario.penalty_site`: market regulation's website of penalty notices.
"""

from govlake.scenario.registry import append_updates, enterprise, generate, make_uscc, seed

__all__ = ["append_updates", "enterprise", "generate", "make_uscc", "seed"]
