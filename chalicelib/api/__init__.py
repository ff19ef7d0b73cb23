"""The HTTP API: request and response models, the use cases behind the routes, the
OpenAPI document and the page. Imported by app.py only."""
