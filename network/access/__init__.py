"""The access-router adapter: a Linux host (or network namespace) configured over netlink."""
