"""The generic job engine; knows no job type, only the table it is handed.

lifecycle, checkpoints, guards  the only place a status changes (API/sweeper side,
                                worker side, what both share)
jobtype, registry               what a job type declares; the table of installed types
runner, commit, progress        the chunk loop and its time budget; completing in one
                                transaction; the progress/ETA arithmetic
messaging, sweeper              the work message; the scheduled sweep
"""
