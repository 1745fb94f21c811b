"""What a cell's outcome is worth: outcomes, verdicts and comparisons with
the golden. Pure (harness/README.md)."""
