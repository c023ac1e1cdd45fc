"""Configuration: typed, validated, layered YAML settings and the environment rules."""
