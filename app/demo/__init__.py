"""Demo data: a believable small coop with a year of history."""
