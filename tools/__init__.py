"""Developer tools, outside the installed package (run them from the repository root)."""
