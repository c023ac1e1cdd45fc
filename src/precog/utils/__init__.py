"""Small shared utilities (logging, clocks)."""
