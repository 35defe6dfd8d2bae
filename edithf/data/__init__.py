"""Data: the interchange format, annotation processing, the demo benchmark, importers."""
