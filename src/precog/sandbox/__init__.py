"""A Kalshi-compatible exchange and ESPN simulator on loopback, for offline use and tests."""
