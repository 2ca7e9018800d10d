"""Invoices and credit notes, their gapless numbers, the monthly bill run, and pending credits (issue 6)."""
