"""The `precog` command line."""
