"""The generic job engine: the lifecycle (the only place a status changes), the chunk
runner and its time budget, the work message, and the sweeper. Knows no job type."""
