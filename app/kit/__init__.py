"""Shared building blocks every domain may import: database base and types, errors, money, time,
pagination, the acting user, background loops."""
