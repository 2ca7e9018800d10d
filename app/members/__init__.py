"""Members and their shares (GenG): applications, admission, share subscriptions, paid-in capital, transfers,
notice and leaving, and the member register as of any date."""
