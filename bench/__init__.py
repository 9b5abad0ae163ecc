"""The benchmark: load generators, statistics and the compile timing; a tool of the repository, not shipped."""
