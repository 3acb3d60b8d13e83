"""Loading and checking the config directory."""
