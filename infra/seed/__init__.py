"""Catalogue seeding (`make seed`)."""
