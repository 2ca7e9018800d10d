"""The audit log: every change with who, when, through which channel, and the values before and after."""
