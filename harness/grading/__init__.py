"""Students' programs: finding and building them, checking them against
the references, naming their bugs, the class summary (harness/README.md)."""
