"""tunebench's engine: configs in, repeated nested cross-validation, records out."""
