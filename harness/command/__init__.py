"""What every command shares: option values, the default matrix, usage
errors and exit codes, interrupts (harness/README.md)."""
