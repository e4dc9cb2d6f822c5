"""Internal utilities of sklearn-isd."""
