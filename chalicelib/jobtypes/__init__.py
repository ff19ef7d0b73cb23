"""One module per job type: what a chunk of that type does."""
