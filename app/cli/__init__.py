"""The ``opentelecom`` command line."""
