"""The ledger's CLI tests' demo database (SQLite, the demo coop), shared rather than built a second way."""

from tests.billing.ledger.test_cli import demo_env  # noqa: F401
