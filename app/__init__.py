"""openTelecom core: settings, database, auth, members, contracts, audit, web shell and CLI."""
