"""Payments: SEPA mandates, pain.008 collections and pain.001 payouts, camt.053 statements, matching."""
