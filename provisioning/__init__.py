"""provisioning: see README.md in this folder."""
