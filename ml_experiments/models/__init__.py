"""Models, each built from its config and the dataset's metadata."""
