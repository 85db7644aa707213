"""I/O behind small interfaces. Each adapter takes an optional boto3 client (tests inject one
bound to moto) and turns SDK errors into the exceptions in `orderflow.adapters.errors`."""
