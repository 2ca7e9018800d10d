"""Plans, premises and contracts with their lifecycle and the consumer-protection dates of TKG §56."""
