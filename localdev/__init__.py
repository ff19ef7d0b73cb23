"""Local-only tooling: the local stack, the SQS pump, the CLI and the DKT generator.

Not shipped to Lambda: `chalice package` takes app.py and chalicelib/ only.
"""
