"""Configuration: the settings (settings.py) and each section's schema."""
