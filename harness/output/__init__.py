"""What a run leaves behind: the terminal grid, results.json, junit.xml,
report.html, per-cell folders, and merging shards' outputs
(harness/README.md)."""
