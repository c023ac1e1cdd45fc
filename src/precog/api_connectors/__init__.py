"""Clients for the external venues and data sources (Kalshi, ESPN)."""
