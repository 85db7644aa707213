"""The chaos soak (`make soak`): see `localcloud.soak.run`."""
