"""voip: see README.md in this folder."""
