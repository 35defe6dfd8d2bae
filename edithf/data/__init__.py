"""Data: the interchange format (schema, validation, the dataset folder), safe image loading, annotation processing."""
