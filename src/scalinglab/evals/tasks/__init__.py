"""AIW task data (YAML); a package only so that its files ship in wheels."""
