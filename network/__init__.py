"""network: see README.md in this folder."""
