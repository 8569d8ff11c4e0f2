"""The two entry points. They parse their input and wire adapters; the work lives elsewhere."""
