"""The service's code, shipped to Lambda with app.py."""
