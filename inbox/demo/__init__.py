"""Demo data: a realistic multi-channel support history, bulk-loaded fast (`seed_demo`)."""

from .seed import SeedResult, demo_seed

__all__ = ["SeedResult", "demo_seed"]
