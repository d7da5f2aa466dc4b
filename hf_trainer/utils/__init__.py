"""What every stage shares and none owns: user-facing errors, atomic file writes and line readers,
logging set-up, and the recipes' YAML-then-flags argument parser."""
