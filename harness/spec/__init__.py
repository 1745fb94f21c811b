"""What the matrix is: matrix.yaml and the golden transcripts, loaded,
validated and expanded into cells. Pure: no processes, no sockets
(harness/README.md)."""
