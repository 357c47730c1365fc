"""Analysis of network files: evaluation and statistics (verification comes next)."""
