"""Running cells: processes, namespaces and ports, the recording relay,
the cell runner and its scheduling (harness/README.md)."""
