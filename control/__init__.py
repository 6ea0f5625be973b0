"""ClusterPBX."""
