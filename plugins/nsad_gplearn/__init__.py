"""nsad-bench built-in plugin."""
