"""The entry points (the Lambda handler, the worker, `make claims`): they translate their input and
output; bootstrap's composition roots wire the adapters, and the work lives in application/."""
