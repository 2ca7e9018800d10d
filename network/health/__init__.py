"""network.health: device inventory, what the SNMP poller last saw, and health states (see ../README.md)."""
