"""audiomix against its peers and against the memory limit: ``python -m benchmarks.bench``."""
