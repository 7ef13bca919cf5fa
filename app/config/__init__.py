"""The relay's configuration: a TOML file, interpolated and validated at start-up."""

from app.config.loader import ConfigError, config_path, load_settings, parse_settings
from app.config.model import Customer, Settings, Source

__all__ = ["ConfigError", "Customer", "Settings", "Source", "config_path", "load_settings", "parse_settings"]
