"""One concern per construct; the stack composes them and grants access between them."""
