"""The double-entry ledger: chart of accounts, journal, balances, the accountant's export."""
