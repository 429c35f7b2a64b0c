"""The lakehouse's catalogue: every table's schema, keys and partitioning, and where tables live."""
