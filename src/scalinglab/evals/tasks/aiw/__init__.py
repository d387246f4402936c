"""AIW family and prompt-type YAML files (see README.md here)."""
