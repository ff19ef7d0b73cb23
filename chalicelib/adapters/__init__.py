"""One AWS concern each: clients, DynamoDB helpers and cursors, S3 uploads, EventBridge
events, bearer tokens; `services.Services` bundles them for the code that needs them."""
