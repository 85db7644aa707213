"""The local cloud: the synthesized orderflow app running on moto, with no AWS account and no
Docker. See docs/local-cloud.md for what it runs and where it differs from AWS."""
